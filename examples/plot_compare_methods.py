"""
Compare methods on one problem
==============================

Five methods on the same tomography data: the classical Tikhonov and TV, and the
generative *hard*, *relaxed* and *sparse* with one small VAE as the prior (``sparse-tv``
and ``pgd`` are called the same way; they are left out here because they take longer).  Each method's ``lam`` is chosen by the paper's protocol in miniature: the best
mean PSNR over a grid on 4 tuning images (:func:`genprior.choice.tuning.grid_search`,
the whole grid solved as one batch), then the method is run on 8 other images.

The objectives, with :math:`G` the generator and :math:`x = G(z) + u`:

.. math::

   \\text{Tikhonov: } \\|Ax - y\\|^2 + \\lambda\\|x\\|^2, \\qquad
   \\text{TV: } \\|Ax - y\\|^2 + \\lambda\\,\\mathrm{TV}(x),

   \\text{hard: } \\|AG(z) - y\\|^2 + \\lambda\\|z\\|^2, \\qquad
   \\text{relaxed: } \\|Ax - y\\|^2 + \\lambda\\|G(z) - x\\|^2 + \\lambda\\mu\\|z\\|^2,

   \\text{sparse: } \\|A(G(z) + u) - y\\|^2 + \\lambda(\\|u\\|_1 + \\mu\\|z\\|^2).
"""

import genprior as gp  # first: it sets OMP_WAIT_POLICY=PASSIVE before torch loads

import tempfile

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from genprior.choice.tuning import grid_search
from genprior.data.shapes import make_shapes
from genprior.models import create_model
from genprior.training.config import TrainConfig
from genprior.training.loop import train

images = F.avg_pool2d(torch.from_numpy(make_shapes(2000, seed=0)), 2)   # [2000, 1, 28, 28]
held_out = F.avg_pool2d(torch.from_numpy(make_shapes(12, seed=1)), 2)   # never seen in training
tune_x, test_x = held_out[:4], held_out[4:]

torch.manual_seed(0)  # the initial weights: the same numbers at every build
G = create_model("vae", latent_dim=8, image_size=28)
train(G, images, tempfile.mkdtemp() + "/vae", progress=False,
      config=TrainConfig(steps=300, batch_size=32, lr=2e-3, schedule="cosine", checkpoint_every=300, sample_every=None))
G.eval()

A = gp.operator("tomography", 28)
sigma = 0.05
tune_y = gp.measure(A, tune_x, noise=sigma, seed=0)
test_y = gp.measure(A, test_x, noise=sigma, seed=1)

# %%
# Tune, then test
# ---------------
# ``fixed`` holds what is not tuned: the starts of the generative methods and ``mu``.
methods = {
    "tikhonov": dict(lams=[0.3, 0.1, 0.03], fixed={}),
    "tv": dict(lams=[0.1, 0.03, 0.01], fixed={}),
    "hard": dict(lams=[1e-3, 1e-4, 1e-5], fixed=dict(init="encoder")),
    "relaxed": dict(lams=[3.0, 1.0, 0.3], fixed=dict(mu=1e-2, coordinates="u", init="encoder", x_init="generator")),
    "sparse": dict(lams=[0.1, 0.03, 0.01], fixed=dict(mu=1e-2, init="encoder")),
}
results = {}
print(f"{'method':10s} {'lam':>7s} {'tuning PSNR':>11s} {'test PSNR':>9s} {'converged':>9s} {'seconds':>7s}")
for name, spec in methods.items():
    generator = G if gp.METHODS[name].needs_generator else None
    tuned = grid_search(A, tune_y, tune_x, name, {"lam": spec["lams"]}, generator=generator, **spec["fixed"])
    lam = tuned["best"]["lam"]
    result = gp.solve(name, A, test_y, generator, lam=lam, **spec["fixed"])
    results[name] = result
    print(f"{name:10s} {lam:7.0e} {tuned['best_psnr']:11.2f} {gp.psnr(result.x, test_x).mean():9.2f} "
          f"{result.n_converged:>7d}/8 {result.seconds:7.2f}")

# %%
# A VAE trained for seconds on 28x28 images is a weak prior, and TV holds its own here;
# with the published generators the generative methods lead on Shapes tomography
# (:doc:`/paper`, Figure 10).  A grid value chosen at an edge of its grid would ask for a
# wider grid (``genprior tune`` grows it by itself).
#
# The first four test images
# --------------------------
fig, axes = plt.subplots(4, len(results) + 1, figsize=(11, 6))
for i in range(4):
    for j, (label, x) in enumerate((("truth", test_x), *((n, r.x) for n, r in results.items()))):
        axes[i, j].imshow(x[i, 0].detach(), cmap="gray", vmin=0, vmax=1)
        axes[i, j].set_xticks([])
        axes[i, j].set_yticks([])
        if i == 0:
            axes[i, j].set_title(label, fontsize=9)
fig.tight_layout()
