"""Training settings (:class:`TrainConfig`) and the learning-rate schedule.

The schedule of (1-based) step ``s`` of ``S``: constant ``lr``, or cosine decay
``lr * (f + (1 - f) (1 + cos(pi (s - 1) / S)) / 2)`` from ``lr`` down to ``f lr`` with
``f = 0.05``.  Per-model defaults live in :mod:`genprior.training.recipes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from genprior.errors import InputError
from genprior.params import Params, param
from genprior.validation import MAX_SEED

SCHEDULES = ("constant", "cosine")
AMP_DTYPES = ("bfloat16", "float16")
COSINE_FLOOR = 0.05  # the cosine schedule decays the learning rate to 5% of its start


def _betas(value: Any) -> tuple[float, float] | None:
    """Adam's two betas, each in [0, 1)."""
    if value is None:
        return None
    try:
        betas = tuple(float(b) for b in value)
    except (TypeError, ValueError):
        raise InputError(f"must be two numbers in [0, 1), got {value!r}") from None
    if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
        raise InputError(f"must be two numbers in [0, 1), got {value!r}")
    return betas


@dataclass(frozen=True)
class TrainConfig(Params):
    """How to train: the authors' VAE recipe for Shapes by default (Adam 5e-4, batch 32).

    See :func:`genprior.training.recipes.recipe` for the defaults of each model kind;
    ``genprior train KIND`` generates one option per field (:mod:`genprior.cli.generated`).

    Attributes:
        steps: training steps (GAN: generator updates).
        batch_size: images per update, over all ranks together.
        lr: Adam learning rate (start of the schedule).
        schedule: ``"constant"`` or ``"cosine"``.
        seed: seed of the batch order and of all noise.
        max_seconds: stop (and save) after this much training time in this session.
        log_every, checkpoint_every: steps between loss rows / saved states.
        sample_every: steps between sample grids (``None``: no grids).
        betas: Adam betas (``None``: the model's, (0.9, 0.999) or the GAN's (0, 0.9)).
        device: ``"cpu"`` or ``"cuda"``.
        amp: mixed precision (autocast); ``amp_dtype`` ``"bfloat16"`` (CPU and CUDA) or
            ``"float16"`` (with a gradient scaler).
    """

    steps: int = param(30_000, "training steps (GAN: generator steps)", minimum=1)
    batch_size: int = param(32, "images per update over all processes", minimum=1)
    lr: float = param(5e-4, "Adam learning rate (the start of the schedule)", above=0)
    schedule: str = param("constant", "learning-rate schedule: constant or cosine (to 5% of lr)", choices=SCHEDULES,
                          what="learning-rate schedule")
    seed: int = param(0, "seed of the initial weights, the batch order and all noise", minimum=0, maximum=MAX_SEED)
    max_seconds: float | None = param(None, "stop (and save) after this many seconds of training", above=0)
    log_every: int = param(50, "steps per row of losses.csv", minimum=1)
    checkpoint_every: int = param(1000, "steps between resumable checkpoints", minimum=1)
    sample_every: int | None = param(1000, "steps between sample grids (samples/step-N.png; the latest also as "
                                     "samples.png)", minimum=1)
    betas: tuple[float, float] | None = param(None, "Adam betas (default: the model kind's)", convert=_betas,
                                              cli=False)
    device: str = param("cpu", "the device: cpu or cuda (cuda:LOCAL_RANK under torchrun)")
    amp: bool = param(False, "mixed precision (autocast; bfloat16 unless --amp-dtype float16)")
    amp_dtype: str = param("bfloat16", "the autocast dtype: bfloat16, or float16 with a gradient scaler", choices=AMP_DTYPES,
                           what="mixed-precision dtype")

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON (``betas`` as a list)."""
        d = self.values()
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
