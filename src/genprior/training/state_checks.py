"""Checks of a saved training state before a run continues from it.

A ``state.json`` or ``optimisers.safetensors`` that was damaged or edited must not
become a traceback in the middle of training, nor silently train the wrong number of
steps.  :func:`check_record` checks ``state.json``: its step is a non-negative integer
equal to the step its folder is named after (``step-000001000``) and at most the
steps the run was set to; loss history, resume points and seconds are consistent with
it; the training settings build a :class:`~genprior.training.config.TrainConfig`.
:func:`check_optimiser_state` checks a rebuilt optimiser state against the model's
parameters (names, shapes, dtypes, finite step counts) before it is loaded.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import torch

from genprior.errors import InputError

_FOLDER = re.compile(r"^step-(\d+)$")


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_record(info: Any, where: Path) -> dict[str, Any]:
    """``info`` (a parsed ``state.json`` in the folder ``where.parent``) if it is a consistent state.

    Raises:
        InputError: naming the entry that is wrong and saying to start again.
    """
    from genprior.training.config import TrainConfig

    def bad(what: str) -> InputError:
        return InputError(f"{where}: damaged training state ({what}); start the run again with `force=True` "
                          "or in another directory")

    if not isinstance(info, dict) or not all(isinstance(info.get(k), dict) for k in ("model", "train")):
        raise bad("not an object with 'model' and 'train' objects")
    step = info.get("step")
    if not _int(step) or step < 0:
        raise bad(f"its step is {step!r}, not an integer >= 0")
    folder = _FOLDER.match(where.parent.name)
    if folder is not None and int(folder.group(1)) != step:
        raise bad(f"its step {step} differs from its folder's name {where.parent.name}")
    try:
        train = TrainConfig(**info["train"])
    except TypeError as exc:
        raise bad(f"its training settings do not fit: {exc}") from None
    except ValueError as exc:
        raise bad(f"its training settings are invalid: {exc}") from None
    if step > train.steps:
        raise bad(f"its step {step} is beyond the {train.steps} steps the run was set to")
    if not _number(info.get("seconds", 0.0)) or info.get("seconds", 0.0) < 0:
        raise bad(f"its seconds are {info.get('seconds')!r}, not a number >= 0")
    resumed = info.get("resumed_at", [])
    if not isinstance(resumed, list) or not all(_int(s) and 0 <= s <= step for s in resumed) or resumed != sorted(resumed):
        raise bad(f"its resume points {resumed!r} are not increasing steps up to {step}")
    history = info.get("history", [])
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history):
        raise bad("its loss history is not a list of rows")
    steps = [row.get("step") for row in history]
    if not all(_int(s) and 0 <= s <= step for s in steps) or steps != sorted(steps):
        raise bad(f"its loss history's steps are not increasing steps up to {step}")
    if not all(v is None or _number(v) for row in history for k, v in row.items() if k != "step"):
        raise bad("its loss history holds values that are not numbers")
    for key, kind in (("optimisers", dict), ("data_sha256", str), ("scaler", dict), ("data", dict)):
        if info.get(key) is not None and not isinstance(info[key], kind):
            raise bad(f"its {key!r} entry is a {type(info[key]).__name__}, not a {kind.__name__}")
    return info


def check_optimiser_state(optimiser: torch.optim.Optimizer, state: dict[int, dict[str, Any]], where: str) -> None:
    """Raise :class:`~genprior.errors.InputError` unless every saved tensor of ``state`` (index ->
    entries) belongs to a parameter of ``optimiser`` and has its shape and dtype (scalars:
    finite and >= 0, such as Adam's step count)."""
    params = [p for group in optimiser.param_groups for p in group["params"]]
    for idx, entries in state.items():
        if not 0 <= idx < len(params):
            raise InputError(f"{where}: damaged optimiser state (an entry for parameter {idx}, the model has "
                             f"{len(params)})")
        for key, value in entries.items():
            if not isinstance(value, torch.Tensor):
                continue
            if value.dim() == 0:
                if not bool(torch.isfinite(value)) or float(value) < 0:
                    raise InputError(f"{where}: damaged optimiser state ({key} of parameter {idx} is {float(value)})")
            elif value.shape != params[idx].shape or value.dtype != params[idx].dtype:
                raise InputError(f"{where}: damaged optimiser state ({key} of parameter {idx} is {list(value.shape)} "
                                 f"{value.dtype}, the parameter {list(params[idx].shape)} {params[idx].dtype})")


__all__ = ["check_optimiser_state", "check_record"]
