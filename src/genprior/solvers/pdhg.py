"""Primal-dual hybrid gradient (Chambolle-Pock) for ``min_x F(K x) + G(x)``, batched.

Iteration (theta = 1):

    p_{k+1} = prox_{sigma F*}(p_k + sigma K xbar_k)
    x_{k+1} = prox_{tau G}(x_k - tau K^T p_{k+1})
    xbar_{k+1} = x_{k+1} + theta (x_{k+1} - x_k)

which converges for ``tau sigma ||K||^2 < 1``.  ``K`` may map to a tuple of dual
variables (e.g. ``K = [A; D]`` for TV-regularised least squares).  All images of a
batch share the operator and therefore the step sizes; they are solved together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

Dual = tuple[Tensor, ...]


@dataclass
class PDHGProblem:
    """The pieces of ``min_x F(K x) + G(x)``.

    Attributes:
        K: ``x -> (K_1 x, ..., K_m x)``.
        K_adjoint: ``(p_1, ..., p_m) -> sum_i K_i^T p_i``.
        prox_dual: ``(p, sigma) -> prox_{sigma F*}(p)``, componentwise on the tuple.
        prox_primal: ``(x, tau) -> prox_{tau G}(x)``; ``None`` for ``G = 0``.
        objective: ``x -> F(K x) + G(x)`` per image ``[B]``, for the record.
    """

    K: Callable[[Tensor], Dual]
    K_adjoint: Callable[[Dual], Tensor]
    prox_dual: Callable[[Dual, float], Dual]
    prox_primal: Callable[[Tensor, float], Tensor] | None
    objective: Callable[[Tensor], Tensor]


@torch.no_grad()
def operator_norm(K: Callable[[Tensor], Dual], K_adjoint: Callable[[Dual], Tensor], like: Tensor,
                  n_iter: int = 100, seed: int = 0) -> float:
    """Estimate ``||K||`` by power iteration on ``K^T K`` started from a seeded draw shaped ``like[:1]``."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(like[:1].shape, generator=gen, dtype=like.dtype).to(like.device)
    x /= x.norm()
    est = 0.0
    for _ in range(n_iter):
        w = K_adjoint(K(x))
        est = float(w.norm()) ** 0.5
        x = w / w.norm()
    return est


@torch.no_grad()
def pdhg(problem: PDHGProblem, x0: Tensor, tau: float, sigma: float, n_iter: int,
         record_every: int = 10) -> tuple[Tensor, Tensor]:
    """Run ``n_iter`` PDHG iterations from ``x0`` (dual started at zero).

    Returns:
        ``(x, history)`` with the objective recorded at iteration 0 and every
        ``record_every`` iterations and at the last one, shape ``[K, B]``.
    """
    x = x0.clone()
    xbar = x.clone()
    p = tuple(torch.zeros_like(t) for t in problem.K(x))
    history = [problem.objective(x).to("cpu", torch.float64)]
    for k in range(1, n_iter + 1):
        Kx = problem.K(xbar)
        p = problem.prox_dual(tuple(pi + sigma * ki for pi, ki in zip(p, Kx)), sigma)
        x_new = x - tau * problem.K_adjoint(p)
        if problem.prox_primal is not None:
            x_new = problem.prox_primal(x_new, tau)
        xbar = 2.0 * x_new - x
        x = x_new
        if k % record_every == 0 or k == n_iter:
            history.append(problem.objective(x).to("cpu", torch.float64))
    return x, torch.stack(history)
