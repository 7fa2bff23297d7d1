"""Primal-dual hybrid gradient (Chambolle-Pock) for ``min_x F(K x) + G(x)``, batched.

Iteration (theta = 1):

    p_{k+1} = prox_{sigma F*}(p_k + sigma K xbar_k)
    x_{k+1} = prox_{tau G}(x_k - tau K^T p_{k+1})
    xbar_{k+1} = x_{k+1} + theta (x_{k+1} - x_k)

which converges for ``tau sigma ||K||^2 < 1``.  ``K`` may map to a tuple of dual
variables (e.g. ``K = [A; D]`` for TV-regularised least squares).  All images of a
batch share the operator and therefore the step sizes; they are solved together.

Stopping (per image).  PDHG is a fixed-point iteration of a firmly nonexpansive map
(in the metric of its step sizes), so the size of one step, ``(x_k, p_k) -> (x_{k+1},
p_{k+1})``, measures how far the iterate is from a saddle point.  An image has
**converged** when both its primal and its dual iterates changed by at most ``tol``
relative to their size in the last iteration,

    ||x_{k+1} - x_k|| <= tol ||x_{k+1}||   and   ||p_{k+1} - p_k|| <= tol ||p_{k+1}||,

and is then left alone (not evaluated any more); an image that reaches ``max_iter``
stops unconverged.  On Shapes tomography (TV, lam 0.05) ``tol = 1e-4`` stops after
160-190 iterations at PSNR within 0.01 dB and objective within 6e-5 (relative) of
6000 iterations (benchmarks/RESULTS.md, bench_convergence).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from genprior.batched import active_rows
from genprior.errors import InputError
from genprior.physics.operator import Stack
from genprior.solvers.loop import Callback, History, Report, SolveState, iterate

Dual = tuple[Tensor, ...]


@dataclass
class PDHGProblem:
    """The pieces of ``min_x F(K x) + G(x)``.

    Attributes:
        K: the operator ``x -> (K_1 x, ..., K_m x)`` with adjoint ``(p_1, ..., p_m) ->
            sum_i K_i^T p_i`` (``K.A``, ``K.A_adjoint``; e.g. a
            :class:`~genprior.physics.operator.Stack`), shared by all images.
        prox_dual: ``(p, sigma, idx) -> prox_{sigma F*}(p)`` componentwise on the tuple,
            for the images ``idx`` ``[b]`` of the batch (``F`` may hold per-image data).
        prox_primal: ``(x, tau, idx) -> prox_{tau G}(x)``; ``None`` for ``G = 0``.
        objective: ``(x, idx) -> F(K x) + G(x)`` per image ``[b]``, for the record.
    """

    K: Stack
    prox_dual: Callable[[Dual, float, Tensor], Dual]
    prox_primal: Callable[[Tensor, float, Tensor], Tensor] | None
    objective: Callable[[Tensor, Tensor], Tensor]


def _norms(*parts: Tensor) -> Tensor:
    """Per-image Euclidean norm of the concatenation of ``parts`` (each ``[b, ...]``), in float64."""
    return sum(t.reshape(t.shape[0], -1).double().pow(2).sum(1) for t in parts).sqrt()


@torch.no_grad()
def pdhg(problem: PDHGProblem, x0: Tensor, tau: float, sigma: float, max_iter: int = 5000, tol: float = 1e-4,
         record_every: int = 10, callback: Callback | None = None) -> SolveState:
    """Run PDHG from ``x0`` (dual started at zero) until each image converges or ``max_iter``.

    Args:
        problem: the splitting.
        x0: starting images ``[B, ...]``.
        tau, sigma: primal and dual step sizes (``tau sigma ||K||^2 < 1``).
        max_iter: iterations at most.
        tol: per-image threshold on the relative change of the primal and of the dual
            iterate (module docstring); 0 runs every image for ``max_iter`` iterations.
        record_every: the statistics are recorded at iteration 0, every ``record_every``
            iterations and at the iteration where each image stops.
        callback: called after every iteration (:func:`genprior.solvers.loop.iterate`).

    Returns:
        A :class:`~genprior.solvers.loop.SolveState` with ``variables = {"x"}``, per-image
        iterations and ``converged`` flags and the history ``[R, B]`` (one row per recorded
        iteration; NaN where an image was not recorded or had stopped) of the objective and
        of the relative changes ``primal_change`` and ``dual_change`` that the stopping rule tests.
    """
    if max_iter < 1 or record_every < 1:
        raise InputError(f"max_iter and record_every must be >= 1, got {max_iter}, {record_every}")
    if not tol >= 0:
        raise InputError(f"tol must be >= 0, got {tol}")
    B, device = x0.shape[0], x0.device
    x = x0.clone()
    xbar = x.clone()
    p = tuple(torch.zeros_like(t) for t in problem.K.A(x))
    all_idx = torch.arange(B, device=device)
    start = problem.objective(x, all_idx).to(torch.float64)
    nan = torch.full_like(start, float("nan"))

    def step(idx: Tensor, history: History) -> Report:
        nonlocal x, xbar, p
        whole = idx.numel() == B
        x_i, xbar_i = active_rows(x, idx), active_rows(xbar, idx)
        p_i = tuple(active_rows(t, idx) for t in p)
        p_new = problem.prox_dual(tuple(pi + sigma * ki for pi, ki in zip(p_i, problem.K.A(xbar_i))), sigma, idx)
        x_new = x_i - tau * problem.K.A_adjoint(p_new)
        if problem.prox_primal is not None:
            x_new = problem.prox_primal(x_new, tau, idx)
        moved_x, size_x = _norms(x_new - x_i), _norms(x_new)
        moved_p, size_p = _norms(*(a - b for a, b in zip(p_new, p_i))), _norms(*p_new)
        small = (moved_x <= tol * size_x) & (moved_p <= tol * size_p)
        xbar_new = 2.0 * x_new - x_i
        if whole:
            x, xbar, p = x_new, xbar_new, p_new
        else:
            x[idx], xbar[idx] = x_new, xbar_new
            for t, t_new in zip(p, p_new):
                t[idx] = t_new
        regular = history.iteration % record_every == 0
        shown = torch.ones_like(small) if regular else small | history.last
        value = nan[: idx.numel()].clone()
        if bool(shown.any()):
            rows = idx[shown]
            value[shown] = problem.objective(x[rows], rows).to(torch.float64)
        return Report({"objective": value, "primal_change": moved_x / size_x, "dual_change": moved_p / size_p},
                      converged=small,
                      record=regular)

    record = iterate(step, {"objective": start}, max_iter, callback)
    return SolveState(variables={"x": x}, record=record)
