"""
A DeepInverse-style physics object in a genprior method
=======================================================

genprior's operators use DeepInverse's names, ``A(x)`` and ``A_adjoint(y)``, so a
``deepinv.physics`` object can be passed wherever a genprior operator is expected;
genprior does not import or depend on deepinv.  Nor does any object need to be a
genprior class: the methods use only ``A`` and ``A_adjoint`` (differentiable torch code).

If DeepInverse is installed, this example uses its ``Downsampling`` physics; otherwise it
says so and uses a duck-typed stand-in of a few lines: 4x4 average pooling (super-resolution by 4)
and its adjoint.  Note that DeepInverse's operators are not rescaled to norm 1, so
``lam`` values do not carry over between the two.
"""

import genprior as gp  # first: it sets OMP_WAIT_POLICY=PASSIVE before torch loads

import tempfile

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from genprior.data.shapes import make_shapes
from genprior.models import create_model
from genprior.training.config import TrainConfig
from genprior.training.loop import train


class AveragePooling:
    """Duck-typed physics: ``A x`` averages 4x4 blocks; ``A^T y`` spreads each value over its block / 16."""

    def A(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, 4)                                    # [B, 1, n, n] -> [B, 1, n/4, n/4]

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return F.interpolate(y, scale_factor=4, mode="nearest") / 16  # [B, 1, n/4, n/4] -> [B, 1, n, n]


try:
    import deepinv

    physics = deepinv.physics.Downsampling(img_size=(1, 28, 28), factor=4, filter=None)
    print("using deepinv", deepinv.__version__, type(physics).__name__)
except ImportError:
    print("DeepInverse is not installed (pip install deepinv): using the duck-typed AveragePooling stand-in")
    physics = AveragePooling()

# %%
# The adjoint must be right: :math:`\langle A x, y \rangle = \langle x, A^T y \rangle`.
x, v = torch.randn(3, 1, 28, 28, dtype=torch.float64), torch.randn(3, 1, 7, 7, dtype=torch.float64)
print("adjointness error:", float(((physics.A(x) * v).sum() - (x * physics.A_adjoint(v)).sum()).abs()))

# %%
# A small VAE, then the hard method through the foreign physics object
# --------------------------------------------------------------------
images = F.avg_pool2d(torch.from_numpy(make_shapes(2000, seed=0)), 2)   # [2000, 1, 28, 28]
truth = F.avg_pool2d(torch.from_numpy(make_shapes(6, seed=1)), 2)
torch.manual_seed(0)  # the initial weights: the same numbers at every build
G = create_model("vae", latent_dim=8, image_size=28)
train(G, images, tempfile.mkdtemp() + "/vae", progress=False,
      config=TrainConfig(steps=300, batch_size=32, lr=2e-3, schedule="cosine", checkpoint_every=300, sample_every=None))
G.eval()

y = physics.A(truth)
y = y + 0.02 * torch.randn(y.shape, generator=torch.Generator().manual_seed(0))
result = gp.solve("hard", physics, y, G, lam=1e-4, init="encoder")
upsampled = F.interpolate(y, scale_factor=4, mode="nearest")
print(f"hard: {gp.psnr(result.x, truth).mean():.2f} dB; nearest-neighbour upsampling: "
      f"{gp.psnr(upsampled.clamp(0, 1), truth).mean():.2f} dB; {result.n_converged}/6 converged")

fig, axes = plt.subplots(3, 6, figsize=(9, 4.6))
for j in range(6):
    for i, (label, img) in enumerate((("truth", truth), ("y (7x7)", upsampled), ("hard", result.x))):
        axes[i, j].imshow(img[j, 0].detach(), cmap="gray", vmin=0, vmax=1)
        axes[i, j].set_xticks([])
        axes[i, j].set_yticks([])
        if j == 0:
            axes[i, j].set_ylabel(label)
fig.tight_layout()
