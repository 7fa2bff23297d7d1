"""
Bring your own generator
========================

Any ``torch.nn.Module`` that maps codes ``[B, d]`` to images ``[B, 1, H, W]`` and has an
integer attribute ``latent_dim = d`` is a generator that every genprior method accepts;
nothing needs to be trained by genprior.  Here the generator is written by hand: a soft
disc whose code is its centre, radius and brightness.

We fill in missing pixels (inpainting, a quarter of the pixels kept) of an image that
the generator can *almost* make: a disc plus a small bright square.  The *hard* method
keeps the solution in the range of :math:`G`; the *sparse* method adds a sparse
correction :math:`u`,

.. math:: \\min_{z,u}\\ \\|A (G(z) + u) - y\\|_2^2 + \\lambda \\left(\\|u\\|_1 + \\mu \\|z\\|_2^2\\right),

which can hold what the generator cannot make.
"""

import genprior as gp  # first: it sets OMP_WAIT_POLICY=PASSIVE before torch loads

import matplotlib.pyplot as plt
import torch


class SoftDisc(torch.nn.Module):
    """``z = (cx, cy, log r, b) -> b * sigmoid((r - |p - c|) / 0.03)`` on a 32x32 grid in [-1, 1]^2."""

    latent_dim = 4

    def __init__(self, size: int = 32) -> None:
        super().__init__()
        t = torch.linspace(-1, 1, size)
        self.register_buffer("grid", torch.stack(torch.meshgrid(t, t, indexing="xy")))  # [2, n, n]

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        centre = z[:, :2, None, None]                                   # [B, 2, 1, 1]
        radius = 0.4 * torch.exp(0.3 * z[:, 2, None, None])             # [B, 1, 1]
        brightness = torch.sigmoid(1.0 + z[:, 3, None, None])            # [B, 1, 1]
        distance = (self.grid - 0.5 * centre).pow(2).sum(1).sqrt()       # [B, n, n]
        return (brightness * torch.sigmoid((radius - distance) / 0.03)).unsqueeze(1)  # [B, 1, n, n]


G = SoftDisc()
z_true = torch.tensor([[0.6, -0.4, 0.5, 0.8], [-0.8, 0.6, -0.5, 0.0]])
with torch.no_grad():
    truth = G(z_true)                          # [2, 1, 32, 32]: in the range of G
truth[:, :, 4:9, 22:27] = 1.0                  # a small square that G cannot make

A = gp.operator("inpainting", 32, keep=0.25, seed=0)
y = gp.measure(A, truth, noise=0.02, seed=0)

# %%
# ``init="random"`` with restarts: the disc generator has no encoder.  (Give it an
# ``encode(x)`` method returning codes ``[B, d]`` to allow ``init="encoder"``.)
hard = gp.solve("hard", A, y, G, lam=1e-4, init="random", restarts=4, seed=0)
sparse = gp.solve("sparse", A, y, G, lam=1e-2, mu=1e-2, init="random", restarts=4, seed=0)
for name, r in (("hard", hard), ("sparse", sparse)):
    print(f"{name:6s} PSNR {gp.psnr(r.x, truth).tolist()} dB, converged {r.converged.tolist()}")

# %%
with torch.no_grad():
    observed = A.A_adjoint(y)                  # the kept pixels, zeros elsewhere
panels = (("truth", truth), ("observed", observed), ("hard: G(z)", hard.x), ("sparse: G(z) + u", sparse.x),
          ("sparse: u", sparse.u))
fig, axes = plt.subplots(2, len(panels), figsize=(10, 4.2))
for j, (label, x) in enumerate(panels):
    for i in range(2):
        axes[i, j].imshow(x[i, 0].detach(), cmap="gray", vmin=0, vmax=1)
        axes[i, j].set_xticks([])
        axes[i, j].set_yticks([])
    axes[0, j].set_title(label, fontsize=10)
fig.tight_layout()
