"""Default training settings per model kind, data set and preset.

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
``--critic-steps``, ``--schedule``, ``--steps`` ...).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from genprior.models.kinds import get_kind, setting_names
from genprior.validation import check_choice

DATASETS = ("mnist", "shapes", "knee")
_SIZE_TO_DATASET = {28: "mnist", 56: "shapes", 128: "knee"}
# The compact WGAN-GP (see the module docstring): Adam 1e-3 with the paper's betas (0, 0.9) and
# penalty 10, two critic updates per generator update; the steps fit about 30 minutes on 2 cores.
COMPACT_GAN_LR = 1e-3
COMPACT_GAN_MODEL = {"critic_steps": 2, "generator_ema": 0.999, "generator_output": "sigmoid"}
COMPACT_GAN_STEPS = {"mnist": 12_000, "shapes": 2_500, "knee": 2_500}
_NAME_TO_DATASET = {"mnist": "mnist", "shapes": "shapes", "shapes-plus": "shapes", "fastmri": "knee",
                    "knee": "knee", "ellipses": "knee"}


@dataclass(frozen=True)
class Recipe:
    """Training defaults of one (kind, data set, preset)."""

    latent_dim: int
    lr: float
    batch_size: int
    steps: int
    schedule: str = "constant"
    betas: tuple[float, float] | None = None  # None: the model's default (GAN: (0, 0.9))
    model: dict[str, Any] = field(default_factory=dict)  # the recipe's model settings (kl_weight, width, ...)
    source: str = ""  # where the numbers come from

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def dataset_of(meta: dict[str, Any] | None, image_size: int) -> str | None:
    """The recipe's data set for a data file: its ``meta["dataset"]``, else the image size
    (28 MNIST, 56 Shapes, 128 knee); ``None`` if neither says."""
    name = str((meta or {}).get("dataset", "")).lower()
    if name in _NAME_TO_DATASET:
        return _NAME_TO_DATASET[name]
    return _SIZE_TO_DATASET.get(image_size)


def _paper(kind: str, dataset: str) -> Recipe:
    latent = {"mnist": 8, "shapes": 10, "knee": 800}[dataset]
    if kind == "gan":
        return Recipe(latent, 1e-4, 50, 25_000, betas=(0.0, 0.9), model={"critic_steps": 5},
                      source="paper WGAN-GP: Adam 1e-4 betas (0, 0.9), batch 50, 20k-30k generator steps")
    if dataset == "knee":
        return Recipe(latent, 5e-4, 32, 250_000, model={"kl_weight": 0.001} if kind == "vae" else {},
                      source="paper knee VAE: latent 800, KL 0.001, ~250k iterations (lr and batch not stated: "
                             "Adam 5e-4, batch 32 assumed)")
    batch = 64 if dataset == "mnist" else 32
    kl = (0.05 if dataset == "mnist" else 0.01) if kind == "vae" else None
    return Recipe(latent, 5e-4, batch, 30_000, model={"kl_weight": kl} if kl else {},
                  source=f"paper AE/VAE: Adam 5e-4, batch {batch}, 30k iterations" + (f", KL {kl}" if kl else ""))


def recipe(kind: str, dataset: str | None, preset: str = "compact") -> Recipe:
    """The default :class:`Recipe` for ``kind`` on ``dataset`` (``None``: Shapes-like defaults).

    A kind takes the recipe its registry entry names (:data:`~genprior.models.kinds.MODEL_KINDS`).
    """
    kind = get_kind(kind).recipe
    check_choice(preset, ("compact", "paper"), "preset")
    base = _paper(kind, dataset or "shapes")
    if dataset is None:
        base = replace(base, latent_dim=10, source=base.source + " (unknown data set: Shapes settings)")
    if preset == "paper":
        return base
    if kind == "gan":
        steps = COMPACT_GAN_STEPS[dataset or "shapes"]
        model = {**base.model, **COMPACT_GAN_MODEL}
        return replace(base, lr=COMPACT_GAN_LR, model=model, steps=steps,
                       source=base.source + f"; compact: Adam {COMPACT_GAN_LR:g} (betas kept), "
                              f"{model['critic_steps']} critic steps, sigmoid output, generator weight average "
                              f"{model['generator_ema']:g}, {steps / 1000:g}k steps by default")
    return replace(base, lr=2e-3, schedule="cosine", steps=5_000,
                   source=base.source + "; compact: Adam 2e-3 with cosine decay, 5k steps by default")


def recipe_settings(kind: str, dataset: str | None, preset: str, image_size: int, latent_dim: int | None = None,
                    model_overrides: dict[str, Any] | None = None, **train_overrides: Any):
    """The :class:`~genprior.models.config.ModelConfig` and
    :class:`~genprior.training.config.TrainConfig` of the recipe.

    The recipe of ``(kind, dataset, preset)`` gives the latent size (unless
    ``latent_dim``), its values of the kind's settings (the VAE's KL weight, the GAN's
    critic steps) and the optimiser settings; ``model_overrides`` (the kind's settings,
    ``width``) and ``train_overrides`` (``steps``, ``device``, ...) replace recipe values
    (``None`` values are ignored).
    """
    from genprior.models.config import ModelConfig
    from genprior.training.config import TrainConfig

    r = recipe(kind, dataset, preset)
    # the recipe's values of the model settings the kind has (VAE: kl_weight; GAN: critic_steps, widths, ...)
    extra = {k: v for k, v in r.model.items() if k in (*setting_names(kind), "width")}
    extra.update({k: v for k, v in (model_overrides or {}).items() if v is not None})
    model_config = ModelConfig(kind=kind, preset=preset, latent_dim=r.latent_dim if latent_dim is None else latent_dim,
                               image_size=image_size, **extra)
    defaults = {"steps": r.steps, "batch_size": r.batch_size, "lr": r.lr, "schedule": r.schedule, "betas": r.betas}
    return model_config, TrainConfig(**{**defaults, **{k: v for k, v in train_overrides.items() if v is not None}})


def recipe_configs(kind: str, dataset: str | None, preset: str, image_size: int, latent_dim: int | None = None,
                   **train_overrides: Any):
    """An untrained model and its ``TrainConfig`` from the recipe (:func:`recipe_settings`).

    The global torch seed is set to the config's seed before the model is built, so its
    initial weights are reproducible.

    Returns:
        ``(model, train_config)``.
    """
    import torch

    from genprior.models.checkpoint import build_model

    model_config, config = recipe_settings(kind, dataset, preset, image_size, latent_dim, **train_overrides)
    torch.manual_seed(config.seed)
    return build_model(model_config.to_dict()), config
