"""Projected gradient descent onto the range of a generator (the paper's equation (8)), batched.

    w_{t+1} = x_t - eta A^T (A x_t - y)
    z_{t+1} = argmin_z ||w_{t+1} - G(z)||^2     (approximately: a few warm-started steps)
    x_{t+1} = G(z_{t+1})

The loop is generic: the caller supplies the gradient step and the projection; this
module only runs them for B images at once with per-image stopping and an objective
history per image.  An image has converged when ``||x_{t+1} - x_t|| <= tol ||x_t||``:
``(x_t - x_{t+1}) / eta`` is the gradient mapping of projected gradient descent, the
first-order optimality measure of a constrained problem (zero exactly at its fixed
points), so this is a test of stationarity, not only of slow progress.  An image that
reaches ``max_iter`` stops unconverged.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from genprior.errors import InputError
from genprior.solvers.loop import Callback, History, Report, SolveState, iterate

# gradient_step(x, idx) -> w for the active images idx
GradientStep = Callable[[Tensor, Tensor], Tensor]
# project(w, z, idx) -> (z_new, x_new = G(z_new)) for the active images idx, warm-started at z
Projection = Callable[[Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]
# objective(z, x, idx) -> [b]
Objective = Callable[[Tensor, Tensor, Tensor], Tensor]


@torch.no_grad()
def projected_gradient(
    gradient_step: GradientStep,
    project: Projection,
    objective: Objective,
    z0: Tensor,
    x0: Tensor,
    max_iter: int = 1000,
    tol: float = 1e-5,
    callback: Callback | None = None,
) -> SolveState:
    """Run projected gradient descent from ``(z0, x0 = G(z0))``.

    Returns:
        A :class:`~genprior.solvers.loop.SolveState` with ``variables = {"z", "x"}``,
        iterations ``[B]``, ``converged`` and the history ``[K + 1, B]`` (NaN after an
        image stopped) of the objective and of the relative change ``||x+ - x|| / ||x||``.
    """
    if max_iter < 0:
        raise InputError(f"max_iter must be >= 0, got {max_iter}")
    B, device = z0.shape[0], z0.device
    z, x = z0.detach().clone(), x0.detach().clone()
    all_idx = torch.arange(B, device=device)

    def step(idx: Tensor, history: History) -> Report:
        x_old = x[idx]
        w = gradient_step(x_old, idx)
        z_new, x_new = project(w, z[idx], idx)
        z[idx], x[idx] = z_new, x_new
        change = (x_new - x_old).reshape(idx.numel(), -1).norm(dim=1)
        size = x_old.reshape(idx.numel(), -1).norm(dim=1).clamp_min(1e-12)
        return Report({"objective": objective(z_new, x_new, idx), "change": change / size},
                      converged=change <= tol * size)

    record = iterate(step, {"objective": objective(z, x, all_idx)}, max_iter, callback)
    return SolveState(variables={"z": z, "x": x}, record=record)
