"""Training settings (:class:`TrainConfig`) and the learning-rate schedule.

The schedule of (1-based) step ``s`` of ``S``: constant ``lr``, or cosine decay
``lr * (f + (1 - f) (1 + cos(pi (s - 1) / S)) / 2)`` from ``lr`` down to ``f lr`` with
``f = 0.05``.  Per-model defaults live in :mod:`genprior.training.recipes`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from genprior.errors import InputError
from genprior.validation import check_choice, check_positive, check_seed

SCHEDULES = ("constant", "cosine")
AMP_DTYPES = ("bfloat16", "float16")
COSINE_FLOOR = 0.05  # the cosine schedule decays the learning rate to 5% of its start


@dataclass
class TrainConfig:
    """How to train: the authors' VAE recipe for Shapes by default (Adam 5e-4, batch 32).

    See :func:`genprior.training.recipes.recipe` for the defaults of each model.

    Attributes:
        steps: training steps (GAN: generator updates).
        batch_size: images per update, over all ranks together.
        lr: Adam learning rate (start of the schedule).
        seed: seed of the batch order and of all noise.
        log_every, checkpoint_every: steps between loss rows / saved states.
        sample_every: steps between sample grids (``None``: no grids).
        max_seconds: stop (and save) after this much training time in this session.
        schedule: ``"constant"`` or ``"cosine"``.
        betas: Adam betas (``None``: the model's, (0.9, 0.999) or the GAN's (0, 0.9)).
        device: ``"cpu"`` or ``"cuda"``.
        amp: mixed precision (autocast); ``amp_dtype`` ``"bfloat16"`` (CPU and CUDA) or
            ``"float16"`` (with a gradient scaler).
    """

    steps: int = 30_000
    batch_size: int = 32
    lr: float = 5e-4
    seed: int = 0
    log_every: int = 50
    checkpoint_every: int = 1000
    max_seconds: float | None = None
    schedule: str = "constant"
    betas: tuple[float, float] | None = None
    sample_every: int | None = 1000
    device: str = "cpu"
    amp: bool = False
    amp_dtype: str = "bfloat16"

    def __post_init__(self) -> None:
        check_choice(self.schedule, SCHEDULES, "learning-rate schedule")
        check_choice(self.amp_dtype, AMP_DTYPES, "mixed-precision dtype")
        for name in ("steps", "batch_size", "log_every", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        if self.sample_every is not None and (not isinstance(self.sample_every, int) or self.sample_every < 1):
            raise InputError(f"sample_every must be a positive integer or None, got {self.sample_every!r}")
        check_seed(self.seed, "seed")
        check_positive(self.lr, "learning rate")
        if self.max_seconds is not None:
            check_positive(self.max_seconds, "max_seconds")
        if self.betas is not None:
            self.betas = tuple(float(b) for b in self.betas)
            if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
                raise InputError(f"betas must be two numbers in [0, 1), got {self.betas!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["betas"] = list(self.betas) if self.betas is not None else None
        return d


def learning_rate(config: "TrainConfig", step: int) -> float:
    """The learning rate of (1-based) ``step``: constant, or cosine decay over ``config.steps``.

    cosine: ``lr * (f + (1 - f) (1 + cos(pi (step - 1) / steps)) / 2)`` with ``f = 0.05``.
    """
    if config.schedule == "constant":
        return config.lr
    progress = (step - 1) / config.steps
    return config.lr * (COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + math.cos(math.pi * progress)))


__all__ = ["AMP_DTYPES", "COSINE_FLOOR", "SCHEDULES", "TrainConfig", "learning_rate"]
