"""Baselines that use no generator: Tikhonov and total-variation regularisation.

    Tikhonov:  min_x d(A x, y) + lam ||x||^2        (Algorithm 1 on x, as the paper)
    TV:        min_x d(A x, y) + lam TV(x)          (PDHG / Chambolle-Pock)

with the data term ``d(A x, y) = ||A x - y||^2`` by default (any
:class:`~genprior.physics.fidelity.DataFidelity`; TV needs the prox of its conjugate).

Both run until each image converges (:mod:`genprior.solvers.backtracking`,
:mod:`genprior.solvers.pdhg`), not for a fixed number of iterations.

For TV, PDHG runs on ``K = [A; D]`` with ``F(v, w) = d(v, y) + lam ||w||_{2,1}`` and
``G = 0``, steps ``tau = sigma = 1 / (1.1 ||K||)`` as in the authors' code; the dual
proxes are the fidelity's ``prox_{s d*}`` (``(p - s y) / (1 + s / 2)`` for the squared L2)
and the projection of each pixel's dual gradient vector onto the ball of radius ``lam``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from torch import Tensor

from genprior.batched import active_rows, sq_norm
from genprior.methods.common import check_measurements, image_shape, initial_image, per_image
from genprior.methods.parameters import LAM_HELP, IterativeParams, record_of
from genprior.params import param
from genprior.physics.fidelity import DataFidelity, default_fidelity
from genprior.physics.finite_differences import FiniteDifferences, project_l2_ball, tv_norm
from genprior.physics.operator import LinearPhysics, Stack
from genprior.solvers.backtracking import Block, block_backtracking
from genprior.solvers.loop import Callback
from genprior.solvers.pdhg import PDHGProblem, pdhg
from genprior.solvers.result import Result

X_INITS = ("zero", "random")
_X_INIT_HELP = "start of x: zero or random (N(0, 1) pixels), or an image tensor"


@dataclass(frozen=True)
class TikhonovParams(IterativeParams):
    """Parameters of :func:`tikhonov`."""

    lam: float | Tensor = param(0.2, LAM_HELP, minimum=0, grid=(10.0, {0.25: 1e-5, 0.5: 1e-3}))
    x_init: str | Tensor = param("random", _X_INIT_HELP, choices=X_INITS, what="x initialisation")


@dataclass(frozen=True)
class TVParams(IterativeParams):
    """Parameters of :func:`tv`; ``tol`` bounds the relative change of the primal and dual
    iterates (:func:`genprior.solvers.pdhg.pdhg`; 0 runs ``max_iter`` iterations)."""

    lam: float | Tensor = param(0.05, LAM_HELP, minimum=0, above=0, grid=(10.0, {0.25: 1e-5, 0.5: 1e-3}),
                                why="TV needs lam > 0: at lam = 0 its dual ball is a point and PDHG divides by zero")
    x_init: str | Tensor = param("zero", _X_INIT_HELP, choices=X_INITS, what="x initialisation")
    max_iter: int = param(5000, "iteration limit", minimum=1)
    tol: float = param(1e-4, "per-image stop on the relative change of the PDHG iterates", minimum=0)
    record_every: int = param(10, "the objective history is recorded every this many iterations", minimum=1)


def tikhonov(physics: LinearPhysics, y: Tensor, generator=None, *, fidelity: DataFidelity | None = None,
             callback: Callback | None = None, **params) -> Result:
    """Minimise ``d(A x, y) + lam ||x||^2`` (``d(u, y) = ||u - y||^2`` by default) by gradient descent with backtracking.

    ``generator`` is accepted and ignored so every method shares one signature;
    ``fidelity`` and ``callback`` are as for :func:`genprior.methods.hard.hard`;
    ``**params`` are the fields of :class:`TikhonovParams`.
    """
    p = TikhonovParams.create(params, "method 'tikhonov'")
    data = default_fidelity(fidelity)
    check_measurements(physics, y, data)
    lam_t = per_image(p.lam, y.shape[0], "lam", y)
    start = time.perf_counter()
    x0 = initial_image(physics, y, p.x_init, p.seed, X_INITS)

    def make_partial(block, state, idx):
        y_idx, lam_idx = y[idx], lam_t[idx]
        return lambda x, rows: data(physics, x, y_idx[rows]) + lam_idx[rows] * sq_norm(x)

    out = block_backtracking(make_partial, [Block("x", x0)], max_iter=p.max_iter, tol=p.tol, callback=callback)
    return Result.of(out, out.variables["x"], params={**record_of(p), "fidelity": data.record()},
                     seconds=time.perf_counter() - start).require_finite("tikhonov")


def tv_problem(physics: LinearPhysics, y: Tensor, lam: Tensor, fidelity: DataFidelity | None = None) -> PDHGProblem:
    """The PDHG splitting of ``d(A x, y) + lam TV(x)`` (``G = 0``), ``lam`` of shape ``[B]``."""
    radius = lam.reshape(-1, 1, 1, 1, 1)  # broadcasts against the dual gradient [B, C, 2, H, W]
    data = default_fidelity(fidelity)

    def prox_dual(p, s, idx):
        p_data, p_grad = p
        return data.prox_conjugate(p_data, active_rows(y, idx), s), project_l2_ball(p_grad, active_rows(radius, idx))

    return PDHGProblem(
        K=Stack(physics, FiniteDifferences(image_shape(physics, y))),
        prox_dual=prox_dual,
        prox_primal=None,
        objective=lambda x, idx: data(physics, x, active_rows(y, idx)) + active_rows(lam, idx) * tv_norm(x),
    )


def tv(physics: LinearPhysics, y: Tensor, generator=None, *, fidelity: DataFidelity | None = None,
       callback: Callback | None = None, **params) -> Result:
    """Minimise ``d(A x, y) + lam TV(x)`` (isotropic TV; ``d(u, y) = ||u - y||^2`` by default) by PDHG until each
    image converges.

    ``generator`` is accepted and ignored so every method shares one signature;
    ``fidelity`` and ``callback`` are as for :func:`genprior.methods.hard.hard`;
    ``**params`` are the fields of :class:`TVParams` (``max_iter``: PDHG iterations at
    most; the authors ran a fixed 1000).
    """
    p = TVParams.create(params, "method 'tv'")
    data = default_fidelity(fidelity)
    check_measurements(physics, y, data)
    lam_t = per_image(p.lam, y.shape[0], "lam", y)
    start = time.perf_counter()
    x0 = initial_image(physics, y, p.x_init, p.seed, X_INITS)
    problem = tv_problem(physics, y, lam_t, data)
    step = 1.0 / (1.1 * problem.K.norm(x0))
    out = pdhg(problem, x0, tau=step, sigma=step, max_iter=p.max_iter, tol=p.tol, record_every=p.record_every,
               callback=callback)
    return Result.of(out, out.variables["x"], params={**record_of(p), "fidelity": data.record(), "step": step},
                     seconds=time.perf_counter() - start).require_finite("tv")
