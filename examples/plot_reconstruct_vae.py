"""
Reconstruct with a trained VAE
==============================

Train a small VAE on Shapes images, save it, load it back with :func:`genprior.load_model`
and reconstruct tomography data with the *hard* method,

.. math:: \\hat z = \\arg\\min_z \\|A G(z) - y\\|_2^2 + \\lambda \\|z\\|_2^2, \\qquad \\hat x = G(\\hat z),

next to total variation.  Everything is made here: 2,000 Shapes images at 28x28 and a
few seconds of training (the published models train for minutes on 56x56 images).
"""

# %%
# Data and a VAE trained for a few seconds
# ----------------------------------------
# :func:`genprior.data.shapes.make_shapes` draws Shapes images (a circle and a
# rectangle, 56x56); we halve them to 28x28 so that everything below takes seconds.
import genprior as gp  # first: it sets OMP_WAIT_POLICY=PASSIVE before torch loads

import tempfile

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from genprior.data.shapes import make_shapes
from genprior.models import create_model
from genprior.training.config import TrainConfig
from genprior.training.loop import train

images = F.avg_pool2d(torch.from_numpy(make_shapes(2000, seed=0)), 2)  # [2000, 1, 28, 28] in [0, 1]
truth = F.avg_pool2d(torch.from_numpy(make_shapes(8, seed=1)), 2)     # 8 test images from another seed

run = tempfile.mkdtemp() + "/shapes-vae"
torch.manual_seed(0)  # the initial weights: the same numbers at every build
model = create_model("vae", latent_dim=8, image_size=28)
config = TrainConfig(steps=300, batch_size=32, lr=2e-3, schedule="cosine", log_every=100,
                     checkpoint_every=300, sample_every=None)
history = train(model, images, run, config, progress=False)
print(f"trained {history[-1]['step']} steps in {history[-1]['seconds']:.1f} s, loss {history[-1]['loss']:.2f}")

# %%
# Load the checkpoint and pose the problem
# ----------------------------------------
# A run directory holds ``model.safetensors`` and ``config.json``; loading never
# unpickles code.  The operator is rescaled to :math:`\|A\| = 1`, so the noise level
# means the same on every problem.
G = gp.load_model(run)
A = gp.operator("tomography", 28)
y = gp.measure(A, truth, noise=0.05, seed=0)
print(type(G).__name__, "latent_dim", G.latent_dim, "| y:", tuple(y.shape))

# %%
# Reconstruct all eight images in one batch
# -----------------------------------------
# ``init="encoder"`` starts from the VAE encoder's code of a simple reconstruction.
hard = gp.solve("hard", A, y, G, lam=1e-3, init="encoder")
tv = gp.solve("tv", A, y, lam=3e-2)           # lam as tuned in "Compare methods on one problem"
for name, result in (("hard (VAE)", hard), ("TV", tv)):
    print(f"{name:11s} PSNR {gp.psnr(result.x, truth).mean():5.2f} dB, "
          f"{result.n_converged}/8 converged, {result.seconds:.2f} s")

# %%
# A VAE trained for seconds on 28x28 images makes blurred shapes, and TV can match or beat
# it here.  With the published generators (56x56, minutes of training) the generative
# methods lead TV on this problem: :doc:`/paper`, Figure 10.

# %%
fig, axes = plt.subplots(3, 8, figsize=(10, 4))
for j in range(8):
    for i, (label, x) in enumerate((("truth", truth), ("hard (VAE)", hard.x), ("TV", tv.x))):
        axes[i, j].imshow(x[j, 0].detach(), cmap="gray", vmin=0, vmax=1)
        axes[i, j].set_xticks([])
        axes[i, j].set_yticks([])
        if j == 0:
            axes[i, j].set_ylabel(label)
fig.tight_layout()
