"""Baselines that use no generator: Tikhonov and total-variation regularisation.

    Tikhonov:  min_x ||A x - y||^2 + lam ||x||^2        (Algorithm 1 on x, as the paper)
    TV:        min_x ||A x - y||^2 + lam TV(x)          (PDHG / Chambolle-Pock)

Both run until each image converges (:mod:`genprior.solvers.backtracking`,
:mod:`genprior.solvers.pdhg`), not for a fixed number of iterations.

For TV, PDHG runs on ``K = [A; D]`` with ``F(v, w) = ||v - y||^2 + lam ||w||_{2,1}`` and
``G = 0``, steps ``tau = sigma = 1 / (1.1 ||K||)`` as in the authors' code; the dual
proxes are ``prox_{s F1*}(p) = (p - s y) / (1 + s / 2)`` and the projection of each
pixel's dual gradient vector onto the ball of radius ``lam``.
"""

from __future__ import annotations

import time

from torch import Tensor

from genprior.methods.common import (
    check_measurements,
    data_fit,
    image_shape,
    param_record,
    per_image,
    sq_norm,
)
from genprior.methods.common import initial_image as common_initial_image
from genprior.physics.finite_differences import FiniteDifferences, project_l2_ball, tv_norm
from genprior.physics.operator import LinearPhysics, Stack
from genprior.solvers.backtracking import OBJECTIVE_TOL, Block, block_backtracking
from genprior.solvers.pdhg import PDHGProblem, pdhg
from genprior.solvers.result import Result

X_INITS = ("zero", "random")


def initial_image(physics: LinearPhysics, y: Tensor, x_init: str | Tensor, seed: int) -> Tensor:
    """The start of a classical method: ``"zero"``, ``"random"`` (``N(0, 1)`` pixels from ``seed``) or a tensor."""
    return common_initial_image(physics, y, x_init, seed, X_INITS)


def tikhonov(
    physics: LinearPhysics,
    y: Tensor,
    generator=None,
    lam: float = 0.2,
    x_init: str | Tensor = "random",
    seed: int = 0,
    max_iter: int = 1000,
    tol: float = OBJECTIVE_TOL,
    **solver_options,
) -> Result:
    """Minimise ``||A x - y||^2 + lam ||x||^2`` by gradient descent with backtracking.

    ``generator`` is accepted and ignored so every method shares one signature.
    """
    check_measurements(physics, y)
    lam_t = per_image(lam, y.shape[0], "lam", y)
    start = time.perf_counter()
    x0 = initial_image(physics, y, x_init, seed)

    def make_partial(block, state, idx):
        y_idx, lam_idx = y[idx], lam_t[idx]
        return lambda x, rows: data_fit(physics, x, y_idx[rows]) + lam_idx[rows] * sq_norm(x)

    out = block_backtracking(make_partial, [Block("x", x0)], max_iter=max_iter, tol=tol, **solver_options)
    return Result(
        x=out.variables["x"], z=None, u=None, iterations=out.iterations, objective=out.objective,
        converged=out.converged, seconds=time.perf_counter() - start,
        params={"lam": param_record(lam), "x_init": x_init if isinstance(x_init, str) else "tensor", "seed": seed,
                "max_iter": max_iter},
    ).require_finite("tikhonov")


def tv_problem(physics: LinearPhysics, y: Tensor, lam: Tensor) -> PDHGProblem:
    """The PDHG splitting of ``||A x - y||^2 + lam TV(x)`` (``G = 0``), ``lam`` of shape ``[B]``."""
    radius = lam.reshape(-1, 1, 1, 1, 1)  # broadcasts against the dual gradient [B, C, 2, H, W]

    def prox_dual(p, s, idx):
        p_data, p_grad = p
        return (p_data - s * y[idx]) / (1.0 + s / 2.0), project_l2_ball(p_grad, radius[idx])

    return PDHGProblem(
        K=Stack(physics, FiniteDifferences(image_shape(physics, y))),
        prox_dual=prox_dual,
        prox_primal=None,
        objective=lambda x, idx: data_fit(physics, x, y[idx]) + lam[idx] * tv_norm(x),
    )


def tv(
    physics: LinearPhysics,
    y: Tensor,
    generator=None,
    lam: float = 0.05,
    max_iter: int = 5000,
    tol: float = 1e-4,
    x_init: str | Tensor = "zero",
    seed: int = 0,
    record_every: int = 10,
) -> Result:
    """Minimise ``||A x - y||^2 + lam TV(x)`` (isotropic TV) by PDHG until each image converges.

    ``generator`` is accepted and ignored so every method shares one signature.

    Args:
        lam: the TV weight, ``> 0`` (a number or one value per image).
        max_iter: PDHG iterations at most (the authors ran a fixed 1000).
        tol: per-image threshold on the relative change of the primal and dual iterates
            (:func:`genprior.solvers.pdhg.pdhg`); 0 runs ``max_iter`` iterations.
        record_every: the objective history is recorded every ``record_every`` iterations.
    """
    check_measurements(physics, y)
    lam_t = per_image(lam, y.shape[0], "lam", y)
    if bool((lam_t <= 0).any()):
        raise ValueError(f"TV needs lam > 0 (with lam = 0 its dual ball is a point and PDHG divides by zero), "
                         f"got {param_record(lam)!r}")
    start = time.perf_counter()
    x0 = initial_image(physics, y, x_init, seed)
    problem = tv_problem(physics, y, lam_t)
    step = 1.0 / (1.1 * problem.K.norm(x0))
    out = pdhg(problem, x0, tau=step, sigma=step, max_iter=max_iter, tol=tol, record_every=record_every)
    return Result(
        x=out.variables["x"], z=None, u=None, iterations=out.iterations, objective=out.objective,
        converged=out.converged, seconds=time.perf_counter() - start,
        params={"lam": param_record(lam), "max_iter": max_iter, "tol": tol,
                "x_init": x_init if isinstance(x_init, str) else "tensor", "step": step},
    ).require_finite("tv")
