"""Default training settings per model kind, data set and preset.

``paper`` recipes are the authors' (REFERENCE.md): AE/VAE Adam 5e-4, 30k iterations,
batch 64 (MNIST) / 32 (Shapes), VAE KL weight 0.05 (MNIST) / 0.01 (Shapes); knee VAE
latent 800, KL weight 0.001, about 250k iterations; WGAN-GP Adam 1e-4 with betas
(0, 0.9), batch 50, 20k-30k generator steps (we take 25k), 5 critic steps, penalty 10.

``compact`` recipes keep the data and objective settings (batch sizes, KL weights,
GAN optimiser) and change what makes the small CPU models train in minutes: AE/VAE use
Adam 2e-3 with cosine decay to 5% over the run (lower loss and A1 error than Adam 5e-4
at an equal number of steps on both data sets: benchmarks/RESULTS.md,
"bench_training_recipes"), and fewer default steps (AE/VAE 5k, GAN 2k).  Every value can be overridden (CLI flags
``--lr``, ``--batch-size``, ``--kl-weight``, ``--schedule``, ``--steps`` ...).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from genprior.validation import check_choice

DATASETS = ("mnist", "shapes", "knee")
_SIZE_TO_DATASET = {28: "mnist", 56: "shapes", 128: "knee"}
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
    kl_weight: float | None = None  # VAE only
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
        return Recipe(latent, 1e-4, 50, 25_000, betas=(0.0, 0.9),
                      source="paper WGAN-GP: Adam 1e-4 betas (0, 0.9), batch 50, 20k-30k generator steps")
    if dataset == "knee":
        return Recipe(latent, 5e-4, 32, 250_000, kl_weight=0.001 if kind == "vae" else None,
                      source="paper knee VAE: latent 800, KL 0.001, ~250k iterations (lr and batch not stated: "
                             "Adam 5e-4, batch 32 assumed)")
    batch = 64 if dataset == "mnist" else 32
    kl = (0.05 if dataset == "mnist" else 0.01) if kind == "vae" else None
    return Recipe(latent, 5e-4, batch, 30_000, kl_weight=kl,
                  source=f"paper AE/VAE: Adam 5e-4, batch {batch}, 30k iterations" + (f", KL {kl}" if kl else ""))


def recipe(kind: str, dataset: str | None, preset: str = "compact") -> Recipe:
    """The default :class:`Recipe` for ``kind`` on ``dataset`` (``None``: Shapes-like defaults)."""
    check_choice(kind, ("ae", "vae", "gan"), "model kind")
    check_choice(preset, ("compact", "paper"), "preset")
    base = _paper(kind, dataset or "shapes")
    if dataset is None:
        base = replace(base, latent_dim=10, source=base.source + " (unknown data set: Shapes settings)")
    if preset == "paper":
        return base
    if kind == "gan":
        return replace(base, steps=2_000, source=base.source + "; compact: 2k steps by default")
    return replace(base, lr=2e-3, schedule="cosine", steps=5_000,
                   source=base.source + "; compact: Adam 2e-3 with cosine decay, 5k steps by default")
