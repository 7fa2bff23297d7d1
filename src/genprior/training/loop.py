"""The training loop: Adam on a model's ``loss(batch)``, with logging and checkpoints.

A model to train exposes ``loss(x) -> (scalar, {name: float})`` for a batch ``x``
``[b, 1, n, n]``.  Each step draws a batch without replacement (a fresh permutation
per epoch, from a seeded generator), takes one Adam step, and every ``log_every``
steps appends the mean of the logged values to the loss history.  The checkpoint
directory receives ``model.safetensors`` + ``config.json`` every ``checkpoint_every``
steps and at the end, and ``losses.csv``; every file is written atomically.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from genprior.atomic import write_text_atomic
from genprior.models.checkpoint import save_checkpoint
from genprior.validation import check_choice, check_finite, check_positive

LOSSES = "losses.csv"
SCHEDULES = ("constant", "cosine")
COSINE_FLOOR = 0.05  # the cosine schedule decays the learning rate to 5% of its start


def learning_rate(config: "TrainConfig", step: int) -> float:
    """The learning rate of (1-based) ``step``: constant, or cosine decay over ``config.steps``.

    cosine: ``lr * (f + (1 - f) (1 + cos(pi (step - 1) / steps)) / 2)`` with ``f = 0.05``.
    """
    if config.schedule == "constant":
        return config.lr
    progress = (step - 1) / config.steps
    return config.lr * (COSINE_FLOOR + (1 - COSINE_FLOOR) * 0.5 * (1 + math.cos(math.pi * progress)))


@dataclass
class TrainConfig:
    """How to train: the authors' VAE recipe for Shapes by default (Adam 5e-4, batch 32)."""

    steps: int = 30_000
    batch_size: int = 32
    lr: float = 5e-4
    seed: int = 0
    log_every: int = 50
    checkpoint_every: int = 1000
    max_seconds: float | None = None
    schedule: str = "constant"

    def __post_init__(self) -> None:
        check_choice(self.schedule, SCHEDULES, "learning-rate schedule")
        for name in ("steps", "batch_size", "log_every", "checkpoint_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        check_positive(self.lr, "learning rate")
        if self.max_seconds is not None:
            check_positive(self.max_seconds, "max_seconds")


def _batches(n: int, batch_size: int, generator: torch.Generator):
    """Endless index batches: a fresh permutation of ``range(n)`` each epoch."""
    while True:
        perm = torch.randperm(n, generator=generator)
        for start in range(0, n - batch_size + 1, batch_size):
            yield perm[start : start + batch_size]


def _write_losses(path: Path, rows: list[dict[str, float]]) -> None:
    if not rows:
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def train(
    model: nn.Module,
    images: Tensor,
    out_dir: str | os.PathLike,
    config: TrainConfig | None = None,
    data_info: dict[str, Any] | None = None,
    progress: bool = True,
) -> list[dict[str, float]]:
    """Train ``model`` on ``images`` ``[N, 1, n, n]`` and checkpoint it into ``out_dir``.

    Stops after ``config.steps`` steps or ``config.max_seconds``, whichever comes first;
    ``config.json`` records the steps actually taken.

    Returns:
        The loss history: one row per ``log_every`` steps (``step``, ``seconds`` and the
        mean of each logged value).
    """
    from tqdm.auto import tqdm

    config = config or TrainConfig()
    check_finite(images, "training images")
    expected = getattr(model, "image_shape", None)
    if expected is not None and tuple(images.shape[1:]) != tuple(expected):
        raise ValueError(f"training images have shape {list(images.shape[1:])}, the model expects {list(expected)}")
    if images.shape[0] < config.batch_size:
        raise ValueError(f"{images.shape[0]} training images are fewer than the batch size {config.batch_size}")
    out_dir = Path(out_dir)
    torch.manual_seed(config.seed)
    sampler = _batches(images.shape[0], config.batch_size, torch.Generator().manual_seed(config.seed))
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    history: list[dict[str, float]] = []
    sums: dict[str, float] = {}
    start = time.perf_counter()
    step = 0

    def training_info(finished: bool) -> dict[str, Any]:
        return {**asdict(config), "steps_done": step, "finished": finished,
                "seconds": round(time.perf_counter() - start, 2), "data": data_info or {}}

    model.train()
    bar = tqdm(total=config.steps, disable=not progress, desc="training", unit="step", dynamic_ncols=True)
    for step in range(1, config.steps + 1):
        batch = images[next(sampler)]
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(config, step)
        loss, logs = model.loss(batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"training diverged at step {step}: loss is {float(loss)}; lower the learning rate")
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        for k, v in logs.items():
            sums[k] = sums.get(k, 0.0) + v
        bar.update(1)
        out_of_time = config.max_seconds is not None and time.perf_counter() - start > config.max_seconds
        if step % config.log_every == 0 or step == config.steps or out_of_time:
            n_logged = step - (history[-1]["step"] if history else 0)
            row = {"step": step, "seconds": round(time.perf_counter() - start, 3),
                   **{k: v / n_logged for k, v in sums.items()}}
            history.append(row)
            sums = {}
            bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k not in ("step", "seconds")})
        if step % config.checkpoint_every == 0 and step < config.steps and not out_of_time:
            model.eval()
            save_checkpoint(model, out_dir, training_info(finished=False))
            _write_losses(out_dir / LOSSES, history)
            model.train()
        if out_of_time:
            break
    bar.close()
    model.eval()
    save_checkpoint(model, out_dir, training_info(finished=True))
    _write_losses(out_dir / LOSSES, history)
    return history
