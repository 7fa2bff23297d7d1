"""Training recipes: the defaults of a model kind on a data set for a preset.

Each model class carries its recipe (``TrainableModel.recipe(dataset, preset)``), so a
kind that subclasses another inherits it; the generators build theirs with the
functions below (the denoiser's is in :mod:`genprior.models.denoiser_recipe`).

``paper`` recipes are the authors' (REFERENCE.md): AE/VAE Adam 5e-4, 30k iterations,
batch 64 (MNIST) / 32 (Shapes), VAE KL weight 0.05 (MNIST) / 0.01 (Shapes); knee VAE
latent 800, KL weight 0.001, about 250k iterations; WGAN-GP Adam 1e-4 with betas
(0, 0.9), batch 50, 20k-30k generator steps (we take 25k), 5 critic steps, penalty 10.

``compact`` recipes keep the data and objective settings (batch sizes, KL weights,
the GAN's loss: penalty 10, Adam betas (0, 0.9)) and change what makes the small CPU
models train in minutes:

- AE/VAE: Adam 2e-3 with cosine decay to 5% over the run (lower loss and A1 error than
  Adam 5e-4 at an equal number of steps on both data sets: benchmarks/RESULTS.md,
  "bench_training_recipes"), 5k steps by default.
- WGAN-GP: Adam 1e-3 (the paper's 1e-4 is ten times smaller) and 2 critic updates per
  generator update (the paper's 5), constant learning rate, the compact nets without
  dropout, a sigmoid generator output and an exponential moving average of the
  generator's weights (decay 0.999, the generator used after training); 12k (MNIST) /
  2.5k (Shapes) generator steps, 30 minutes each on one CPU thread of a busy 2-core
  machine.  Evidence (benchmarks/RESULTS.md, "bench_training_gan"): at an equal 240
  seconds on MNIST, A1 median NRMSE on 200 test images: paper optimiser 0.70 (blobs),
  Adam 1e-3 with 5 critic steps 0.66, Adam 5e-4 with 5 critic steps 0.66, a
  two-time-scale rule (critic 4e-4, generator 1e-4, 1 critic step) 0.67, Adam 1e-3 with
  2 critic steps 0.60 (recognisable digits).  At an equal 900 seconds: a sigmoid output
  raised the confidently classified share of samples by 6 points and lowered A1; wider
  nets (generator 32 / critic 64) gave more per step but fewer steps and lost at an
  equal time (30 minutes: A1 0.50 and 68% confident against 0.45 and 73%); a linear
  decay of the rate and batch normalisation gave little.  Final runs with these
  defaults: MNIST A1 median 0.45 on 1000 test images (was 0.54; 73% of samples are
  confident digits, was 57%), Shapes 0.24 on 200 (was 0.31).

Every value can be overridden (CLI flags ``--lr``, ``--batch-size``, ``--kl-weight``,
``--critic-steps``, ``--schedule``, ``--steps`` ...; :mod:`genprior.training.recipes`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

DATASETS = ("mnist", "shapes", "knee")
PAPER_LATENT = {"mnist": 8, "shapes": 10, "knee": 800}
# The compact WGAN-GP (see the module docstring): Adam 1e-3 with the paper's betas (0, 0.9) and
# penalty 10, two critic updates per generator update; the steps fit about 30 minutes on 2 cores.
COMPACT_GAN_LR = 1e-3
COMPACT_GAN_MODEL = {"critic_steps": 2, "generator_ema": 0.999, "generator_output": "sigmoid"}
COMPACT_GAN_STEPS = {"mnist": 12_000, "shapes": 2_500, "knee": 2_500}


@dataclass(frozen=True)
class Recipe:
    """Training defaults of one (kind, data set, preset).

    Attributes:
        latent_dim: the latent size ``d`` (``None`` for a kind without a latent space).
        lr, batch_size, steps, schedule: the optimiser's settings (Adam).
        betas: Adam betas (``None``: the model's default; the GAN's are (0, 0.9)).
        model: the recipe's values of the kind's own settings (``kl_weight``, ``critic_steps``, ``width``, ...).
        source: where the numbers come from, in words.
    """

    latent_dim: int | None
    lr: float
    batch_size: int
    steps: int
    schedule: str = "constant"
    betas: tuple[float, float] | None = None
    model: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _unknown_dataset(recipe: Recipe, dataset: str | None) -> Recipe:
    """Shapes' settings with latent 10 when the data set is not known."""
    if dataset is not None:
        return recipe
    return replace(recipe, latent_dim=10, source=recipe.source + " (unknown data set: Shapes settings)")


def autoencoder_recipe(dataset: str | None, preset: str, kl_weight: dict[str, float] | None = None) -> Recipe:
    """The AE recipe, or the VAE's with ``kl_weight`` (per data set): the authors' optimiser for ``paper``,
    Adam 2e-3 with cosine decay over 5k steps for ``compact`` (module docstring)."""
    name = dataset or "shapes"
    latent = PAPER_LATENT[name]
    kl = (kl_weight or {}).get(name)
    model = {"kl_weight": kl} if kl is not None else {}
    if name == "knee":
        base = Recipe(latent, 5e-4, 32, 250_000, model=model,
                      source="paper knee VAE: latent 800, KL 0.001, ~250k iterations (lr and batch not stated: "
                             "Adam 5e-4, batch 32 assumed)")
    else:
        batch = 64 if name == "mnist" else 32
        base = Recipe(latent, 5e-4, batch, 30_000, model=model,
                      source=f"paper AE/VAE: Adam 5e-4, batch {batch}, 30k iterations" + (f", KL {kl}" if kl else ""))
    base = _unknown_dataset(base, dataset)
    if preset == "paper":
        return base
    return replace(base, lr=2e-3, schedule="cosine", steps=5_000,
                   source=base.source + "; compact: Adam 2e-3 with cosine decay, 5k steps by default")


def gan_recipe(dataset: str | None, preset: str) -> Recipe:
    """The WGAN-GP recipe: the authors' for ``paper``; Adam 1e-3, 2 critic steps, a sigmoid output and a
    generator weight average for ``compact`` (module docstring)."""
    name = dataset or "shapes"
    base = _unknown_dataset(Recipe(PAPER_LATENT[name], 1e-4, 50, 25_000, betas=(0.0, 0.9), model={"critic_steps": 5},
                                   source="paper WGAN-GP: Adam 1e-4 betas (0, 0.9), batch 50, 20k-30k generator "
                                          "steps"), dataset)
    if preset == "paper":
        return base
    steps = COMPACT_GAN_STEPS[name]
    model = {**base.model, **COMPACT_GAN_MODEL}
    return replace(base, lr=COMPACT_GAN_LR, model=model, steps=steps,
                   source=base.source + f"; compact: Adam {COMPACT_GAN_LR:g} (betas kept), "
                          f"{model['critic_steps']} critic steps, sigmoid output, generator weight average "
                          f"{model['generator_ema']:g}, {steps / 1000:g}k steps by default")


__all__ = ["COMPACT_GAN_LR", "COMPACT_GAN_MODEL", "COMPACT_GAN_STEPS", "DATASETS", "PAPER_LATENT", "Recipe",
           "autoencoder_recipe", "gan_recipe"]
