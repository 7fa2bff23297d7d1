"""The training loop shared by every model kind (AE, VAE, WGAN-GP, denoiser): single process or ``torchrun``.

A model to train follows :class:`genprior.models.trainable.TrainableModel`'s protocol: a
training **step** is the sequence of phase updates of ``model.phases()`` (AE/VAE and
denoiser: one update; WGAN-GP: ``critic_steps`` critic updates, each on a fresh batch of
real images, then one generator update on noise only).  Each update evaluates
``model.objective(phase, batch, size)`` and takes one Adam step of that phase's
optimiser, then calls ``model.after_update(phase)`` if the model has it (the GAN's
generator weight average); the learning rate follows :func:`learning_rate` (constant or
cosine).

Randomness is counter-based (:mod:`genprior.training.randomness`): the batch order and
every noise draw are functions of the seed and the step, so a resumed run replays
exactly what an uninterrupted run would have done.  The global batch is the same
whatever the number of ranks; rank ``r`` of ``R`` trains on its ``r``-th slice.

Files (rank 0, all atomic, see :mod:`genprior.training.state`): every
``checkpoint_every`` steps, when stopped early and at the end, the resumable state,
``model.safetensors`` + ``config.json`` and ``losses.csv`` (one row per ``log_every``
steps: ``step``, ``seconds``, the mean of each logged value); every ``sample_every``
steps and at the end the model's progress grid (``model.preview``: a generator's ``G(z)``
for fixed codes ``z ~ N(0, I)``, a denoiser's noisy and denoised training images), kept as
``samples/step-NNNNNN.png`` (the history) and ``samples.png`` (the latest).  SIGTERM
and Ctrl-C finish the current step, save, and raise :class:`TrainingInterrupted`
(:mod:`genprior.training.interrupt`).
"""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from genprior.atomic import write_atomic, write_text_atomic
from genprior.data.io import images_sha256
from genprior.distributed import any_rank, mean_over_ranks, process_group
from genprior.errors import DivergedError, InputError
from genprior.models.checkpoint import model_config_dict, write_config
from genprior.models.layout import channels_last as stored_channels_last
from genprior.outputs import ReplacedDirectory, RunLock, check_output_directory
from genprior.progress import progress_bar
from genprior.training import ddp, state
from genprior.training.config import TrainConfig, learning_rate
from genprior.training.interrupt import StopRequest, TrainingInterrupted
from genprior.training.randomness import BatchOrder, mix_seed
from genprior.training.rundir import LOSSES, RUN_FILES, SAMPLE_HISTORY, SAMPLES, check_run_directory, foreign_files
from genprior.validation import check_finite

N_PREVIEW = 32  # training images offered to model.preview
GRID_IMAGES = 64  # at most this many images in a progress grid (a generator's 32 samples, a denoiser's 4 x 9)


def _write_losses(path: Path, rows: list[dict[str, float]]) -> None:
    if not rows:
        return
    names: list[str] = []
    for row in rows:
        names += [k for k in row if k not in names]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=names)
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def _kind(model: nn.Module) -> str:
    return str(getattr(getattr(model, "config", None), "kind", type(model).__name__)).upper()


def train(
    model: nn.Module,
    images: Tensor,
    out_dir: str | os.PathLike,
    config: TrainConfig | None = None,
    data_info: dict[str, Any] | None = None,
    progress: bool = True,
    resume: bool = False,
    force: bool = False,
    channels_last: bool = True,
) -> list[dict[str, float]]:
    """Train ``model`` on ``images`` ``[N, 1, n, n]`` and checkpoint it into ``out_dir``.

    Stops after ``config.steps`` steps or ``config.max_seconds``, whichever comes first;
    ``config.json`` records the steps actually taken.  Under ``torchrun`` every rank
    calls this with the same arguments.

    Args:
        model: a :class:`~genprior.models.trainable.TrainableModel` (AE, VAE, WGAN, denoiser).
        images: training images in ``[0, 1]``.
        out_dir: run directory (checkpoint, losses, samples, training state).
        config: training settings.
        data_info: recorded in ``config.json`` (data file, data-set name ...).
        progress: show a progress bar with the latest losses.
        resume: continue from the training state in ``out_dir`` (starts afresh if the
            directory holds no checkpoint at all).
        force: replace an existing run in ``out_dir`` (without it: ``InputError``).  The new
            run is written beside it and swapped in once it exists, so a kill leaves the
            old run intact; a directory that also holds files the run did not write
            (:func:`~genprior.training.rundir.foreign_files`) is refused.
        channels_last: in a single process on the CPU, store the 4-D weights of genprior's
            own models channels-last while training (:func:`genprior.models.layout.channels_last`;
            the default layout is restored after): a step of the compact AE/VAE 1.2-1.3x
            faster (benchmarks/RESULTS.md, bench_training_layout); the same maths, other
            last bits.  ``False``, or a model whose ``train_channels_last`` is ``False`` (the
            denoiser, measured slower so): the default layout throughout.

    Returns:
        The loss history: one row per ``log_every`` steps (``step``, ``seconds`` and the
        mean of each logged value), including rows from before a resume.

    Raises:
        ValueError: bad data or settings, an existing checkpoint without ``resume`` or
            ``force``, or a checkpoint that does not fit the model / settings.
        FloatingPointError: the loss became NaN or infinite.
        TrainingInterrupted: SIGTERM or SIGINT (the state was saved first).
    """
    config = config or TrainConfig()
    out_dir = Path(out_dir)
    with process_group(config.device) as ctx:
        lock = None
        try:
            if ctx.is_main:  # checked and locked before any work; other ranks never write
                check_output_directory(out_dir, force=True, label="run directory")
                check_run_size(model, images, config, out_dir)
                lock = RunLock(out_dir).acquire()
            replace = check_run_directory(out_dir, resume, force)
            fast = (channels_last and ctx.device.type == "cpu" and ctx.world_size == 1
                    and getattr(model, "train_channels_last", True))
            with torch.random.fork_rng(devices=[]), stored_channels_last(model) if fast else nullcontext():
                if not replace:
                    return _train(model, images, out_dir, config, data_info or {}, progress, resume, ctx)
                return _train_aside(model, images, out_dir, config, data_info or {}, progress, ctx)
        finally:
            if lock is not None:
                lock.release()


# Bytes per row of the loss history (a dict in memory, a row of losses.csv, an entry of each
# state.json) and per sample grid on disk (a PNG of at most GRID_IMAGES images, 4 bytes a pixel).
HISTORY_ROW_BYTES = 1024
SAMPLE_GRID_BYTES = 64 * 1024


def check_run_size(model: nn.Module, images: Tensor, config: TrainConfig, out_dir: Path) -> None:
    """Bound ``steps`` by what they accumulate, before any work: the loss history (a row per
    ``log_every`` steps, kept in memory and in every saved state) against the memory limit,
    and the sample grids (one per ``sample_every`` steps) against the free disk space."""
    from genprior.resources import check_disk, check_memory

    rows = config.steps // config.log_every + 2
    check_memory(float(HISTORY_ROW_BYTES) * rows, f"the loss history of {config.steps:,} steps (a row every "
                 f"{config.log_every:,})", "lower `steps=` or raise `log_every=`")
    if config.sample_every is not None:
        grids = config.steps // config.sample_every + 2
        pixels = math.prod(images.shape[1:]) if images.dim() > 1 else 1
        check_disk(grids * (SAMPLE_GRID_BYTES + 4.0 * GRID_IMAGES * pixels), out_dir,
                   f"{grids:,} sample grids (one every {config.sample_every:,} of {config.steps:,} steps)",
                   "raise `sample_every=` or lower `steps=`")


def _train_aside(model, images, out_dir, config, data_info, progress, ctx) -> list[dict[str, float]]:
    """Train into a staging directory beside ``out_dir`` and swap it in once it exists (``force``)."""
    replaced = ReplacedDirectory(out_dir, foreign_files)
    if not ctx.is_main:  # rank 0 owns the staging directory; the other ranks write nothing
        return _train(model, images, out_dir, config, data_info, progress, False, ctx)
    with replaced as staging:
        try:
            return _train(model, images, staging, config, data_info, progress, False, ctx)
        except TrainingInterrupted as exc:  # a resumable state exists: it becomes the run
            replaced.keep_on_error = True
            raise TrainingInterrupted(exc.step, exc.signum, out_dir) from None


def _train(model, images, out_dir, config, data_info, progress, resume, ctx) -> list[dict[str, float]]:

    check_finite(images, "training images")
    expected = getattr(model, "image_shape", None)
    if expected is not None and tuple(images.shape[1:]) != tuple(expected):
        raise InputError(f"training images have shape {list(images.shape[1:])}, the model expects {list(expected)}")
    if images.shape[0] < config.batch_size:
        raise InputError(f"{images.shape[0]} training images are fewer than the batch size {config.batch_size}")
    if config.batch_size % ctx.world_size:
        raise InputError(f"the batch size {config.batch_size} must be divisible by the number of processes "
                         f"{ctx.world_size}")
    if not all(hasattr(model, name) for name in ("phases", "objective", "preview")):
        raise TypeError(f"{type(model).__name__} cannot be trained here: it needs phases(), objective() and "
                        "preview() (see genprior.models.trainable.TrainableModel)")
    device = ctx.device
    amp_dtype = getattr(torch, config.amp_dtype)

    saved_path = state.latest_state(out_dir) if resume else None
    data_hash = images_sha256(images)
    if resume and saved_path is None:
        if state.has_checkpoint(out_dir):
            raise InputError(f"{out_dir} holds a model checkpoint without training state, so it cannot be resumed; "
                             "pass `force=True` to overwrite it or choose another directory")
        if ctx.is_main and progress:
            print(f"nothing to resume in {out_dir}: starting from step 0", flush=True)

    model.to(device)
    optimisers = model.configure_optimisers(config.lr, config.betas)
    history: list[dict[str, float]] = []
    start_step, seconds_before, resumed_at, saved = 0, 0.0, [], {}
    if saved_path is not None:
        saved = state.read_state(saved_path)
        state.check_resumable(saved, config.to_dict(), model_config_dict(model), saved_path)
        if saved.get("data_sha256") not in (None, data_hash):
            raise InputError(f"{out_dir}: the training images differ from those the run started with (content "
                             f"hash {data_hash[:12]}... vs {saved['data_sha256'][:12]}...); resume with the same "
                             "data file, or start a new run in another directory")
        state.load_state(saved_path, model, optimisers)
        start_step, seconds_before = int(saved["step"]), float(saved.get("seconds", 0.0))
        history = list(saved.get("history", []))
        resumed_at = [*saved.get("resumed_at", []), start_step]
    scaler = None
    if config.amp and amp_dtype == torch.float16:
        scaler = torch.amp.GradScaler(device.type)
        if saved.get("scaler"):
            scaler.load_state_dict(saved["scaler"])

    objective = ddp.wrap(model, ctx, device)
    images = images.to(device)
    phases = model.phases()
    after_update = getattr(model, "after_update", lambda phase: None)
    data_updates = sum(p.repeats for p in phases if p.uses_data)
    order = BatchOrder(images.shape[0], config.batch_size, config.seed)
    per_rank = config.batch_size // ctx.world_size
    started = time.perf_counter()
    step = start_step

    def elapsed() -> float:
        return seconds_before + time.perf_counter() - started

    def record(finished: bool, stopped: str) -> dict[str, Any]:
        return {**config.to_dict(), "steps_done": step, "finished": finished, "stopped": stopped,
                "seconds": round(elapsed(), 2), "world_size": ctx.world_size, "resumed_at": resumed_at,
                "data": data_info}

    def save(finished: bool, stopped: str) -> None:
        if not ctx.is_main:
            return
        model.eval()
        info = {"step": step, "seconds": elapsed(), "history": history, "train": config.to_dict(),
                "model": model_config_dict(model), "world_size": ctx.world_size, "resumed_at": resumed_at,
                "finished": finished, "stopped": stopped, "data": data_info, "data_sha256": data_hash,
                "scaler": scaler.state_dict() if scaler is not None else None}
        path = state.save_state(out_dir, model, optimisers, info)
        state.publish_weights(path, out_dir)
        write_config(model, out_dir, record(finished, stopped))
        _write_losses(out_dir / LOSSES, history)
        model.train()

    def samples() -> None:
        if not ctx.is_main or config.sample_every is None:
            return
        from genprior.figures import image_grid

        model.eval()
        with torch.no_grad():  # the same inputs every time: fixed images, a freshly seeded generator
            shown = model.preview(images[:N_PREVIEW], torch.Generator().manual_seed(config.seed))
        model.train()
        grid = image_grid(shown.images, out_dir / SAMPLE_HISTORY / f"step-{step:06d}.png", ncol=shown.ncol,
                          title=f"{_kind(model)} {shown.title}, step {step}")
        write_atomic(out_dir / SAMPLES, lambda tmp: shutil.copyfile(grid, tmp))

    sums: dict[str, Tensor] = {}
    counts: dict[str, int] = {}
    nonfinite = torch.zeros((), dtype=torch.bool, device=device)

    def log_row() -> dict[str, float]:
        nonlocal sums, counts, nonfinite
        names = list(sums)  # the order the model logs them in
        means = torch.stack([sums[k] / counts[k] for k in names]) if names else torch.zeros(0)
        means = mean_over_ranks(means.double(), ctx).tolist()
        bad = any_rank(bool(nonfinite), ctx)
        row = {"step": step, "seconds": round(elapsed(), 3), **dict(zip(names, means))}
        sums, counts = {}, {}
        nonfinite = torch.zeros((), dtype=torch.bool, device=device)
        if bad or not all(math.isfinite(v) for v in means):
            raise DivergedError(f"training diverged before step {step}: a loss is NaN or infinite "
                                     f"({row}); lower the learning rate")
        return row

    if ctx.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
    show = progress and ctx.is_main
    bar = progress_bar(config.steps, f"training {_kind(model)}", enabled=show, initial=start_step, unit="step")
    stopped = "steps"
    model.train()
    with StopRequest() as stop_request:
        while step < config.steps:
            step += 1
            torch.manual_seed(mix_seed(config.seed, step, ctx.rank))
            lr = learning_rate(config, step)
            for opt in optimisers.values():
                for group in opt.param_groups:
                    group["lr"] = lr
            counter = (step - 1) * data_updates  # data batches drawn before this step
            for phase in phases:
                opt = optimisers[phase.name]
                for _ in range(phase.repeats):
                    batch = None
                    if phase.uses_data:
                        batch = images[ctx.take(order.batch(counter)).to(device)]
                        counter += 1
                    with torch.autocast(device.type, dtype=amp_dtype, enabled=config.amp):
                        loss, logs = objective(phase.name, batch, per_rank)
                    opt.zero_grad(set_to_none=True)
                    if scaler is not None:
                        scaler.scale(loss).backward()
                        scaler.step(opt)
                        scaler.update()
                    else:
                        loss.backward()
                        opt.step()
                    after_update(phase.name)
                    nonfinite |= ~torch.isfinite(loss.detach())
                    for name, value in logs.items():
                        sums[name] = sums.get(name, 0.0) + value.detach().float()
                        counts[name] = counts.get(name, 0) + 1
            bar.update(1)
            local_stop = stop_request.signum is not None or (
                config.max_seconds is not None and time.perf_counter() - started > config.max_seconds)
            halt = any_rank(local_stop, ctx)
            if step % config.log_every == 0 or step == config.steps or halt:
                history.append(log_row())
                bar.set_postfix({k: f"{v:.4g}" for k, v in history[-1].items() if k not in ("step", "seconds")},
                                refresh=False)
            if halt:
                stopped = "signal" if stop_request.signum is not None else "max_seconds"
                break
            if step % config.checkpoint_every == 0 and step < config.steps:
                save(finished=False, stopped="checkpoint")
            if config.sample_every is not None and step % config.sample_every == 0 and step < config.steps:
                samples()
        bar.close()
        if sums:  # steps after the last row (a resumed run that was already complete has none)
            history.append(log_row())
        interrupted = stopped == "signal"
        if step > start_step or not (out_dir / "config.json").exists():
            save(finished=not interrupted, stopped=stopped)
            if not interrupted:
                samples()
        model.eval()
        if interrupted:
            raise TrainingInterrupted(step, stop_request.signum, out_dir)
    return history


__all__ = ["RUN_FILES", "check_run_directory", "TrainConfig", "TrainingInterrupted", "BatchOrder", "learning_rate", "train"]
