"""The per-image stopping rule every smooth-objective solver shares: the objective has stopped falling.

An image has converged when, over the last ``window`` iterations, its objective ``F``
fell by at most ``tol * window * |F_k|``::

    F_{k - window} - F_k <= tol * window * |F_k|,

i.e. by less than ``tol`` (relative) per iteration on average
(:mod:`genprior.solvers.backtracking` says why the objective and not the iterates).  The
backtracking solvers of the paper (Algorithms 1-3), L-BFGS and Gauss-Newton all stop by
this rule, so their iteration counts and final objectives compare like for like.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genprior.errors import InputError
from genprior.solvers.loop import History

#: Default stopping threshold: relative objective decrease per iteration.
OBJECTIVE_TOL = 1e-7


def check_stopping(max_iter: int, tol: float, window: int, max_tries: int = 1) -> None:
    """Raise :class:`InputError` unless ``max_iter >= 0``, ``tol >= 0``, ``window >= 1`` and ``max_tries >= 1``."""
    if max_iter < 0 or max_tries < 1 or window < 1:
        raise InputError(f"max_iter must be >= 0, max_tries and window >= 1, got {max_iter}, {max_tries}, {window}")
    if not tol >= 0:
        raise InputError(f"tol must be >= 0, got {tol}")


def objective_flat(history: History, value: Tensor, idx: Tensor, tol: float, window: int) -> Tensor:
    """``[b]`` bool: the images ``idx`` whose objective ``value`` (this iteration's, not yet
    in ``history``) fell by at most ``tol * window * |value|`` over the last ``window`` iterations
    (False while fewer than ``window`` iterations are recorded, and where the value is NaN)."""
    past = history.back("objective", window - 1)  # the objective ``window`` iterations ago
    if past is None:
        return torch.zeros(idx.shape, dtype=torch.bool, device=value.device)
    drop = past[idx] - value
    return drop <= tol * window * value.abs()


__all__ = ["OBJECTIVE_TOL", "check_stopping", "objective_flat"]
