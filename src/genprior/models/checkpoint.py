"""Checkpoints: a directory with ``model.safetensors`` (weights) and ``config.json``.

``config.json`` holds the architecture (``model``: kind, preset, latent dimension,
image size, ...), how it was trained (``training``) and the library versions, so a
model can be rebuilt without code from the checkpoint.  Loading never unpickles:
weights are read with safetensors, and a pickle or ``torch.save`` file passed as a
checkpoint is refused with a clear error.  Both files are written atomically.
"""

from __future__ import annotations

import errno
import json
import os
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genprior.atomic import atomic_path, write_json_atomic
from genprior.errors import InputError

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
FORMAT = "genprior-checkpoint"
_PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")


def build_model(model_config: dict[str, Any]) -> nn.Module:
    """Instantiate an untrained model from the ``model`` section of a config.

    Its ``kind`` names the model class (:data:`~genprior.models.kinds.MODEL_KINDS`); the
    other entries are the :class:`~genprior.models.config.ModelConfig` settings.
    """
    from genprior.models.config import ModelConfig
    from genprior.models.kinds import get_kind

    if not isinstance(model_config, dict):
        raise InputError(f"the model settings must be a JSON object, got {type(model_config).__name__}")
    model_cls = get_kind(model_config.get("kind")).model_class
    config = ModelConfig(**model_config)
    check_model_size(model_cls, config)
    return model_cls(config)


def check_model_size(model_cls: type, config: Any) -> int:
    """Bytes of the model's parameters, counted on the ``meta`` device (nothing is allocated);
    raise :class:`~genprior.resources.ResourceLimitError` if they exceed the memory limit.

    A ``config.json`` claiming a huge image or latent size is refused before any weights exist.
    """
    from genprior.resources import check_memory

    # every latent coordinate and every pixel carries at least one float32 weight (4 bytes, x4 with gradients
    # and Adam's moments): sizes beyond the memory limit are refused before torch sees (and overflows on) them
    for name in ("latent_dim", "image_size"):
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            check_memory(16.0 * value ** (2 if name == "image_size" else 1),
                         f"a model with {name} {value:,}", f"use a smaller `{name}=`")
    with torch.device("meta"):
        probe = model_cls(config)
    nbytes = sum(p.numel() * p.element_size() for p in probe.parameters())
    nbytes += sum(b.numel() * b.element_size() for b in probe.buffers())
    latent = getattr(config, "latent_dim", None)
    check_memory(4.0 * nbytes, f"a {getattr(config, 'kind', 'model')} with image size "  # weights, grads, Adam
                 f"{getattr(config, 'image_size', '?')}" + (f" and latent dimension {latent}" if latent else ""),
                 "use smaller sizes")
    return nbytes


def save_checkpoint(model: nn.Module, directory: str | os.PathLike, training: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s weights and config into ``directory`` (created if needed), atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_weights(model, directory / WEIGHTS)
    write_config(model, directory, training)
    return directory


def save_weights(model: nn.Module, path: str | os.PathLike) -> Path:
    """Write ``model``'s state dict to a safetensors file, atomically."""
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        write_safetensors(state, tmp, {"format": FORMAT})
    return Path(path)


def write_safetensors(tensors: dict[str, torch.Tensor], path: str | os.PathLike, metadata: dict[str, str]) -> None:
    """``save_file`` into the (existing, temporary) ``path``, keeping its mode; a failed write (a full
    disk) is an ``OSError`` naming the file, not safetensors' own exception."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    mode = os.stat(path).st_mode
    try:
        save_file(tensors, str(path), metadata=metadata)
    except SafetensorError as exc:
        code = re.search(r"os error (\d+)", str(exc))
        number = int(code.group(1)) if code else errno.EIO
        raise OSError(number, f"cannot write {path}: {os.strerror(number)} ({exc}); free some space or write "
                      "elsewhere") from None
    os.chmod(path, mode)  # safetensors recreates the file with mode 0600


def model_config_dict(model: nn.Module) -> dict[str, Any]:
    """The ``model`` section of ``config.json`` for ``model`` (its ``config`` dataclass)."""
    config = model.config
    return config.to_dict() if hasattr(config, "to_dict") else asdict(config)


def write_config(model: nn.Module, directory: str | os.PathLike, training: dict[str, Any] | None = None) -> Path:
    """Write ``config.json`` (architecture, training record, versions) into ``directory``, atomically."""
    from genprior import __version__

    config = {
        "format": FORMAT,
        "format_version": 1,
        "model": model_config_dict(model),
        "training": training or {},
        "versions": {"genprior": __version__, "torch": torch.__version__},
    }
    return write_json_atomic(Path(directory) / CONFIG, config)


def read_config(directory: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``config.json`` of a checkpoint directory."""
    from genprior.readfiles import open_input

    directory = _check_directory(directory)
    path = directory / CONFIG
    try:
        with open_input(path, "checkpoint config") as fh:
            config = json.loads(fh.read().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(f"{path}: corrupt checkpoint config ({type(exc).__name__}: {exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT or "model" not in config:
        raise InputError(f"{path}: not a genprior checkpoint config (no format/model entries)")
    for key in ("model", "training", "versions"):
        if key in config and not isinstance(config[key], dict):
            raise InputError(f"{path}: the {key!r} entry must be a JSON object, got {type(config[key]).__name__}")
    return config


def load_model(directory: str | os.PathLike, device: str | torch.device = "cpu", latent_flow: bool = True) -> nn.Module:
    """Rebuild a model from a checkpoint directory, in evaluation mode.

    With ``latent_flow``, a flow saved beside it (``latent_flow.safetensors`` and
    ``latent_flow.json``) is loaded as ``model.latent_flow`` (:mod:`genprior.models.latent_flow_files`).

    Raises:
        FileNotFoundError: the directory, its weights or its config is missing.
        ValueError: a pickle file was given, or a file is corrupt or does not fit the config.
    """
    directory = _check_directory(directory)
    config = read_config(directory)
    model = build_model(config["model"])
    load_weights(model, directory / WEIGHTS)
    model.checkpoint_config = config
    if latent_flow:
        _attach_saved_flow(model, directory)
    return model.to(device).eval()


def _attach_saved_flow(model: nn.Module, directory: Path) -> None:
    """Attach the latent flow saved beside the model (``genprior fit-flow``) as ``model.latent_flow``."""
    from genprior.models.latent_flow_files import FLOW_CONFIG, FLOW_WEIGHTS, attach_latent_flow, load_latent_flow

    if os.path.lexists(directory / FLOW_WEIGHTS) or os.path.lexists(directory / FLOW_CONFIG):
        attach_latent_flow(model, load_latent_flow(directory, getattr(model, "latent_dim", None)))


def load_weights(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load a safetensors state dict into ``model`` (strict); never unpickles.

    Raises:
        ValueError: the file is corrupt or does not fit the architecture.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from genprior.readfiles import check_input_file

    check_input_file(path, "weights file")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{path}: corrupt weights file ({exc})") from None
    check_state_fits(model, state, path)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # check_state_fits found nothing: say it in one line all the same
        raise InputError(f"{path}: weights do not fit the architecture in {CONFIG}: "
                         f"{' '.join(str(exc).split())}") from None
    return model


def check_state_fits(model: nn.Module, state: dict[str, torch.Tensor], path: str | os.PathLike) -> None:
    """Raise :class:`~genprior.errors.InputError` (one line) unless ``state`` has exactly the
    model's tensor names, shapes and dtypes; weights of another dtype are refused, not converted."""
    expected = model.state_dict()
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    shapes = [f"{k} is {list(state[k].shape)} in the file but {list(expected[k].shape)} in the architecture"
              for k in expected if k in state and state[k].shape != expected[k].shape]
    problems = ([f"missing {', '.join(missing[:3])}"] if missing else []) + (
        [f"unexpected {', '.join(extra[:3])}"] if extra else []) + shapes[:2]
    if problems:
        shown = min(len(missing), 3) + min(len(extra), 3) + min(len(shapes), 2)
        more = len(missing) + len(extra) + len(shapes) - shown
        raise InputError(f"{path}: the weights do not fit the architecture in {CONFIG} ({'; '.join(problems)}"
                         f"{f'; and {more} more' if more > 0 else ''}): the config and the weights come from "
                         "different models")
    wrong = [k for k, v in expected.items() if state[k].dtype != v.dtype]
    if wrong:
        have, want = (str(t.dtype).replace("torch.", "") for t in (state[wrong[0]], expected[wrong[0]]))
        raise InputError(f"{path} holds {have} tensors where the model has {want} ({wrong[0]}"
                         f"{f' and {len(wrong) - 1} more' if len(wrong) > 1 else ''}); genprior does not convert "
                         f"weights: save them as {want}")


def _check_directory(directory: str | os.PathLike) -> Path:
    directory = Path(directory)
    if not directory.exists():
        raise FileNotFoundError(f"model checkpoint not found: {directory}")
    if directory.is_file():
        if directory.suffix in _PICKLE_SUFFIXES or _looks_pickled(directory):
            raise InputError(
                f"refusing to load {directory}: it is a pickle/torch.save file, which can run code when "
                "loaded; genprior checkpoints are a directory with model.safetensors and config.json"
            )
        raise InputError(f"{directory} is a file; a checkpoint is a directory with {WEIGHTS} and {CONFIG}")
    from genprior.readfiles import check_input_file

    for name in (WEIGHTS, CONFIG):
        if not os.path.lexists(directory / name):
            raise FileNotFoundError(f"checkpoint {directory} is missing {name}")
        check_input_file(directory / name, "checkpoint file")
    return directory


def _looks_pickled(path: Path) -> bool:
    """True for pickle streams (protocol 2+ starts with 0x80) and torch.save zip archives."""
    from genprior.readfiles import open_input

    with open_input(path, "checkpoint") as fh:
        head = fh.read(4)
    return head[:1] == b"\x80" or head == b"PK\x03\x04"
