"""
Choose lam: by PSNR, and by the discrepancy principle
=====================================================

With ground truth, the paper's protocol keeps the grid value with the best mean PSNR on
a few tuning images.  Without it, Morozov's **discrepancy principle** keeps the
:math:`\\lambda` whose residual matches the expected norm of the noise,

.. math:: \\|A x_\\lambda - y\\|_2 \\approx \\sigma \\sqrt{m},

for :math:`m` measurements per image and noise level :math:`\\sigma`.
:func:`genprior.choice.tuning.grid_search` does either (``criterion="psnr"`` or
``"discrepancy"``) for one :math:`\\lambda` per data set, the whole grid solved as one
batch; :func:`genprior.choice.discrepancy.discrepancy_per_image` picks one per image
(``genprior reconstruct --lam auto``).  Here: the *relaxed* method with a small VAE on
tomography data.
"""

import genprior as gp  # first: it sets OMP_WAIT_POLICY=PASSIVE before torch loads

import math
import tempfile

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from genprior.choice.discrepancy import discrepancy_per_image
from genprior.choice.tuning import grid_search
from genprior.data.shapes import make_shapes
from genprior.models import create_model
from genprior.training.config import TrainConfig
from genprior.training.loop import train

images = F.avg_pool2d(torch.from_numpy(make_shapes(2000, seed=0)), 2)   # [2000, 1, 28, 28]
truth = F.avg_pool2d(torch.from_numpy(make_shapes(4, seed=1)), 2)      # 4 tuning images
torch.manual_seed(0)  # the initial weights: the same numbers at every build
G = create_model("vae", latent_dim=8, image_size=28)
train(G, images, tempfile.mkdtemp() + "/vae", progress=False,
      config=TrainConfig(steps=300, batch_size=32, lr=2e-3, schedule="cosine", checkpoint_every=300, sample_every=None))
G.eval()

sigma = 0.05
A = gp.operator("tomography", 28)
y = gp.measure(A, truth, noise=sigma, seed=0)
fixed = dict(mu=1e-2, coordinates="u", init="encoder", x_init="generator")
lams = [3.0, 1.0, 0.3, 0.1, 0.03]

# %%
# Both criteria from one grid
# ---------------------------
# One batch of ``5 x 4`` problems.  With the truth given, the discrepancy choice also
# reports what PSNR tuning would have chosen (``criterion="psnr"`` alone needs no ``sigma``).
tuned = grid_search(A, y, truth, "relaxed", {"lam": lams}, generator=G, criterion="discrepancy", sigma=sigma,
                    **fixed)
m = y[0].numel()
print(f"expected noise norm sigma sqrt(m) = {sigma} * sqrt({m}) = {sigma * math.sqrt(m):.3f}")
print(f"{'lam':>6s} {'PSNR':>6s} {'residual':>8s}")
for row in tuned["table"]:
    print(f"{row['lam']:6.2f} {row['psnr']:6.2f} {row['residual']:8.3f}")
by_psnr = tuned["psnr_choice"]
print(f"PSNR tuning chooses lam = {by_psnr['best']['lam']} ({by_psnr['psnr']:.2f} dB); "
      f"the discrepancy principle chooses lam = {tuned['best']['lam']} ({tuned['best_psnr']:.2f} dB)")

# %%
# One lam per image
# -----------------
per_image = discrepancy_per_image(A, y, "relaxed", sigma, lams=lams, generator=G, **fixed)
print("lam per image:", per_image.params["lam"], "PSNR:", [round(v, 2) for v in gp.psnr(per_image.x, truth).tolist()])

# %%
# The curves behind the choices (as in the paper's Figure 7)
# ----------------------------------------------------------
table = tuned["table"]
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
left.semilogx([r["lam"] for r in table], [r["psnr"] for r in table], "o-")
left.axvline(by_psnr["best"]["lam"], color="C2", ls="--", label="best PSNR")
left.axvline(tuned["best"]["lam"], color="C3", ls=":", label="discrepancy")
left.set_xlabel("lam")
left.set_ylabel("mean PSNR (dB)")
left.legend()
right.loglog([r["lam"] for r in table], [r["residual"] for r in table], "o-", label="mean ||A x - y||")
right.axhline(sigma * math.sqrt(m), color="k", label="sigma sqrt(m)")
right.set_xlabel("lam")
right.legend()
fig.tight_layout()
