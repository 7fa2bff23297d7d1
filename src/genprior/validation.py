"""Input checks shared by every layer: one place that words the errors users see."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from genprior.errors import InputError

# Seeds feed torch.Generator.manual_seed (at most 2**64 - 1) after small offsets (seed + 1, + 1_000_003):
# a seed is an integer in [0, MAX_SEED].
MAX_SEED = 2**63 - 1


def check_finite(t: Tensor, name: str) -> Tensor:
    """Raise ``ValueError`` if ``t`` holds NaN or Inf, saying how many and where."""
    if not torch.is_floating_point(t):
        return t
    bad = ~torch.isfinite(t)
    if bool(bad.any()):
        n_nan = int(torch.isnan(t).sum())
        n_inf = int(bad.sum()) - n_nan
        first = tuple(int(i) for i in bad.nonzero()[0])
        raise InputError(
            f"{name} contains {n_nan} NaN and {n_inf} Inf value(s) (first at index {first}); "
            "clean the data before reconstructing"
        )
    return t


def check_nonnegative(value: float, name: str) -> float:
    """Raise ``ValueError`` unless ``value`` is a finite number >= 0."""
    if not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value) or value < 0:
        raise InputError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_positive(value: float, name: str) -> float:
    """Raise ``ValueError`` unless ``value`` is a finite number > 0."""
    check_nonnegative(value, name)
    if value == 0:
        raise InputError(f"{name} must be > 0, got {value!r}")
    return float(value)


def check_seed(value: int, name: str = "seed") -> int:
    """Raise :class:`~genprior.errors.InputError` unless ``value`` is an integer in ``[0, MAX_SEED]`` (63 bits)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise InputError(f"{name} must be an integer from 0 to 2**63 - 1 = {MAX_SEED}, got `{name}={value!r}`")
    return value


def check_batch_shape(t: Tensor, shape: Sequence[int], name: str) -> Tensor:
    """Raise ``ValueError`` unless ``t`` has shape ``[B, *shape]`` for some B >= 1."""
    shape = tuple(shape)
    if t.dim() != len(shape) + 1 or tuple(t.shape[1:]) != shape:
        expected = ", ".join(["B", *map(str, shape)])
        raise InputError(f"{name} must have shape [{expected}], got {list(t.shape)}")
    return t


def check_choice(value: str, choices: Sequence[str], what: str) -> str:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``, listing them."""
    if value not in choices:
        raise InputError(f"unknown {what} {value!r}; choose one of: {', '.join(sorted(choices))}")
    return value
