"""Resumable training state, written so that a kill at any instant leaves a usable one.

Layout inside a run directory::

    model.safetensors, config.json     the model checkpoint (what ``load_model`` reads)
    losses.csv, samples.png            loss history and the latest grid of samples
    samples/step-NNNNNN.png            the grids saved every ``sample_every`` steps
    training-state/
        LATEST                         the name of the newest complete state, e.g. "step-000001000"
        step-000001000/
            model.safetensors          weights
            optimisers.safetensors     every tensor of every optimiser's state dict
            state.json                 step, seconds, loss history, training and model settings,
                                       the optimisers' non-tensor state, the AMP scaler

A state is written into a temporary folder, renamed into place (atomic), and only then
named in ``LATEST`` (an atomic file replace); older states are deleted afterwards.  A
reader follows ``LATEST``, so it always finds a complete state.  Nothing is pickled:
tensors go to safetensors, everything else to JSON.

The random state needs no file: every random draw of step ``s`` on rank ``r`` comes from
generators seeded with ``(seed, s, r)`` (see :mod:`genprior.training.randomness`), so the seed
and the step count restore it exactly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch

from genprior.atomic import atomic_path, write_json_atomic, write_text_atomic
from genprior.errors import InputError
from genprior.models.checkpoint import CONFIG, WEIGHTS, load_weights, save_weights, write_safetensors
from genprior.training.state_checks import check_optimiser_state, check_record

STATE_DIR = "training-state"
LATEST = "LATEST"
OPTIMISERS = "optimisers.safetensors"
STATE = "state.json"
# Settings a resumed run must share with the run it continues (others, like steps, may change).
RESUME_FIXED = ("batch_size", "lr", "seed", "schedule", "betas")


def check_resumable(saved: dict[str, Any], train: dict[str, Any], model: dict[str, Any], where: Path) -> None:
    """A resumed run must continue the same model (``model``: its config dict) with the same
    recipe (``train``: the new training settings; :data:`RESUME_FIXED` must not change)."""
    if saved.get("model") != model:
        raise InputError(f"{where}: the checkpoint holds a different model ({saved.get('model')}) than the one "
                         f"given ({model})")
    old = saved.get("train", {})
    changed = [f"{k}: {old.get(k)!r} -> {train[k]!r}" for k in RESUME_FIXED if old.get(k) != train[k]]
    if changed:
        raise InputError(f"{where}: cannot resume with different settings ({'; '.join(changed)}); "
                         "start a new run in another directory (or overwrite with `force=True`)")


def has_checkpoint(directory: str | os.PathLike) -> bool:
    """True if ``directory`` holds a model checkpoint or training state."""
    directory = Path(directory)
    return (directory / CONFIG).exists() or (directory / WEIGHTS).exists() or (directory / STATE_DIR).exists()


def remove_checkpoint(directory: str | os.PathLike, extra: tuple[str, ...] = (),
                      extra_dirs: tuple[str, ...] = ()) -> None:
    """Delete a run's checkpoint files and folders (only those this module and the loop write)."""
    directory = Path(directory)
    for name in (WEIGHTS, CONFIG, *extra):
        (directory / name).unlink(missing_ok=True)
    for name in (STATE_DIR, *extra_dirs):
        shutil.rmtree(directory / name, ignore_errors=True)


def _flatten_optimisers(optimisers: dict[str, torch.optim.Optimizer]) -> tuple[dict[str, torch.Tensor], dict]:
    """Split optimiser state dicts into safetensors tensors and JSON-able metadata."""
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {}
    for name, opt in optimisers.items():
        sd = opt.state_dict()
        other: dict[str, dict[str, Any]] = {}
        for idx, entries in sd["state"].items():
            for key, value in entries.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"{name}/{idx}/{key}"] = value.detach().cpu().contiguous()
                else:
                    other.setdefault(str(idx), {})[key] = value
        meta[name] = {"param_groups": sd["param_groups"], "other": other}
    return tensors, meta


def _unflatten_optimiser(name: str, tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    prefix = f"{name}/"
    for key, value in tensors.items():
        if key.startswith(prefix):
            idx, entry = key[len(prefix):].split("/", 1)
            state.setdefault(int(idx), {})[entry] = value
    for idx, entries in meta["other"].items():
        state.setdefault(int(idx), {}).update(entries)
    groups = [{k: tuple(v) if k == "betas" else v for k, v in g.items()} for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def save_state(
    directory: str | os.PathLike,
    model: torch.nn.Module,
    optimisers: dict[str, torch.optim.Optimizer],
    info: dict[str, Any],
) -> Path:
    """Write a complete training state for ``info["step"]`` and point ``LATEST`` at it.

    Args:
        directory: the run directory.
        model: the (unwrapped) model.
        optimisers: name -> optimiser.
        info: JSON-able record (must hold ``step``); saved as ``state.json`` with the
            optimisers' non-tensor state added.
    Returns:
        The new state's folder.
    """
    root = Path(directory) / STATE_DIR
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{int(info['step']):09d}"
    tmp = root / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_weights(model, tmp / WEIGHTS)
    tensors, meta = _flatten_optimisers(optimisers)
    with atomic_path(tmp / OPTIMISERS) as path:
        write_safetensors(tensors, path, {"format": "genprior-optimisers"})
    write_json_atomic(tmp / STATE, {**info, "optimisers": meta})
    final = root / name
    if final.exists():  # a state of the same step from an earlier attempt: replace it
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(root)
    write_text_atomic(root / LATEST, name + "\n")
    for old in root.iterdir():  # older states and temporary folders of killed writers
        if old.name not in (name, LATEST) and (old.name.startswith("step-") or old.name.startswith(".step-")):
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest_state(directory: str | os.PathLike) -> Path | None:
    """The newest complete training state of a run directory, or ``None``."""
    from genprior.readfiles import open_input

    root = Path(directory) / STATE_DIR
    if not os.path.lexists(root / LATEST):
        return None
    with open_input(root / LATEST, "training state pointer") as fh:
        name = fh.read(256).decode("utf-8", "replace").strip()
    path = root / name
    if not re.fullmatch(r"step-\d+", name) or not (path / STATE).is_file():
        raise InputError(f"{root / LATEST} names {name!r}, which is not a complete training state; "
                         "the run directory is damaged (start again with `force=True`)")
    return path


def read_state(path: str | os.PathLike) -> dict[str, Any]:
    """``state.json`` of a training state folder, checked (:func:`~genprior.training.state_checks.check_record`)."""
    from genprior.readfiles import open_input

    path = Path(path) / STATE
    try:
        with open_input(path, "training state") as fh:
            info = json.loads(fh.read().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(f"{path}: corrupt training state ({type(exc).__name__}: {exc})") from None
    return check_record(info, path)


def load_state(
    path: str | os.PathLike,
    model: torch.nn.Module,
    optimisers: dict[str, torch.optim.Optimizer],
) -> dict[str, Any]:
    """Load weights and optimiser states from a state folder into ``model`` / ``optimisers``.

    Returns:
        The ``state.json`` record.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    info = read_state(path)
    load_weights(model, path / WEIGHTS)
    from genprior.readfiles import check_input_file

    check_input_file(path / OPTIMISERS, "optimiser state")
    try:
        tensors = load_file(str(path / OPTIMISERS))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{path / OPTIMISERS}: corrupt optimiser state ({exc})") from None
    saved = info.get("optimisers", {})
    if set(saved) != set(optimisers):
        raise InputError(f"{path}: the saved optimisers {sorted(saved)} do not match the model's {sorted(optimisers)}")
    for name, opt in optimisers.items():
        try:
            sd = _unflatten_optimiser(name, tensors, saved[name])
            check_optimiser_state(opt, sd["state"], str(path / OPTIMISERS))
            opt.load_state_dict(sd)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"{path}: damaged state of the {name!r} optimiser ({type(exc).__name__}: {exc}); "
                             "start the run again with `force=True` or in another directory") from None
    return info


def publish_weights(state_path: str | os.PathLike, directory: str | os.PathLike) -> Path:
    """Make ``directory/model.safetensors`` the state's weights: a hard link if the file
    system allows it (no copy), else a copy; either way replaced atomically."""
    src = Path(state_path) / WEIGHTS
    target = Path(directory) / WEIGHTS
    tmp = target.with_name(f".{target.name}.link-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, target)
    return target


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
