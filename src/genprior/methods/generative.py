"""The generative family ``min_{x, z} ||A x - y||^2 + lam F(x - G(z)) + w R_Z(z)`` (equation (7)).

One objective builder for every member; the loop is :func:`block_backtracking` (the paper's
Algorithms 1-3), or L-BFGS / Gauss-Newton on the same objective where they apply
(``solver=``, :mod:`genprior.methods.solver_choice`).

Deviation terms ``F`` (what the reconstruction may add to the generator's output):

| ``deviation`` | ``F(u)``                 | variables      | blocks (PALM)                       |
|---------------|--------------------------|----------------|-------------------------------------|
| ``exact``     | ``iota_{0}(u)`` (hard)   | ``z``          | ``z`` (Algorithm 1)                 |
| ``l2``        | ``||u||^2`` (relaxed)    | ``z, x``       | ``z`` then ``x`` (Algorithm 2)      |
| ``l1``        | ``||u||_1`` (sparse)     | ``z, u``       | ``z`` then ``u`` with soft threshold|
| ``tv``        | ``TV(u)`` (sparse-TV)    | ``z, u``       | ``z`` then ``u`` with a TV prox     |

with ``x = G(z) + u``.  The terms are the entries of :data:`DEVIATION_TERMS` (a
:class:`Deviation` each: a smooth ``F`` joins the smooth part, a non-smooth one brings
the ``u`` block with its prox), so a new term is one entry.  ``l2`` can also run in the deviation coordinates ``(z, u)``
(``coordinates="u"``): the same objective, but the ``z`` step then fits the data
through ``G(z) + u`` instead of chasing ``x``, which removes the slow coupling of
Algorithm 2 when ``lam`` is large (see the relaxed method).

The latent weight ``w`` is ``lam`` for ``exact`` (the hard method's ``alpha``) and
``lam * mu`` otherwise; ``R_Z`` is a :class:`~genprior.methods.latent_priors.LatentPrior`
(smooth priors join the smooth part, set constraints are the prox of the ``z`` block).

:func:`run_generative` is the shared driver of every generative method: input checks,
starting codes (with ``K`` restarts as one batch of ``K * B``), timing and the
:class:`Result`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from genprior.batched import rows_like, sq_norm
from genprior.errors import InputError
from genprior.methods.common import check_generator, check_measurements, frozen
from genprior.methods.latent_priors import LatentPrior
from genprior.methods.parameters import GenerativeParams
from genprior.methods.restarts import initial_codes, keep_best, repeat_batch
from genprior.methods.solver_choice import check_solver, resolve_solver, solve_smooth
from genprior.physics.fidelity import DataFidelity, default_fidelity
from genprior.physics.finite_differences import tv_norm
from genprior.physics.operator import LinearPhysics
from genprior.solvers.backtracking import OBJECTIVE_TOL, Block, block_backtracking
from genprior.solvers.loop import SolveState
from genprior.solvers.result import Result
from genprior.solvers.tv_prox import WarmTVProx
from genprior.validation import check_choice

COORDINATES = ("x", "u")


def soft_threshold(v: Tensor, t: Tensor) -> Tensor:
    """``prox_{t ||.||_1}(v) = sign(v) max(|v| - t, 0)`` with ``t`` broadcasting against ``v``."""
    return torch.sign(v) * torch.clamp(v.abs() - t, min=0.0)


# The u block of each non-smooth F: (lam [B], u0, x_steps, tv_prox_iter) -> Block with F's prox and penalty.
UBlock = Callable[[Tensor, Tensor, int, int], Block]


@dataclass(frozen=True)
class Deviation:
    """One deviation term ``F(u)``, ``u = x - G(z)``.

    Attributes:
        name: its name in :data:`DEVIATIONS`.
        smooth: ``F(u)`` per image if ``F`` is smooth (it joins the smooth part, weighted
            by ``lam``), else ``None``.
        u_block: for a non-smooth ``F``, the ``u`` block carrying the prox of ``lam F``.
        exact: ``F`` is the indicator of ``{0}``: no ``u`` at all (the hard method).
    """

    name: str
    smooth: Callable[[Tensor], Tensor] | None = None
    u_block: UBlock | None = None
    exact: bool = False


def _l1_block(lam: Tensor, u0: Tensor, steps: int, _tv_iter: int) -> Block:
    return Block("u", u0, steps=steps, indexed=True,
                 prox=lambda v, step, index: soft_threshold(v, step * rows_like(lam[index], v)),
                 penalty=lambda u, index: lam[index] * u.reshape(u.shape[0], -1).abs().sum(1))


def _tv_block(lam: Tensor, u0: Tensor, steps: int, tv_iter: int) -> Block:
    return Block("u", u0, steps=steps, indexed=True, prox=WarmTVProx(lam, u0, tv_iter),
                 penalty=lambda u, index: lam[index] * tv_norm(u))


DEVIATION_TERMS: dict[str, Deviation] = {
    "exact": Deviation("exact", exact=True),
    "l2": Deviation("l2", smooth=sq_norm),  # float64 sums, as every objective's
    "l1": Deviation("l1", u_block=_l1_block),
    "tv": Deviation("tv", u_block=_tv_block),
}
DEVIATIONS = tuple(DEVIATION_TERMS)
DEVIATION_NAMES = {"exact": "hard", "l2": "relaxed", "l1": "sparse", "tv": "sparse-tv"}  # for messages


def solve_generative(
    physics: LinearPhysics,
    y: Tensor,
    generator: nn.Module,
    z0: Tensor,
    deviation: str,
    lam: Tensor,
    latent_weight: Tensor,
    prior: LatentPrior,
    dev0: Tensor | None = None,
    coordinates: str = "x",
    x_steps: int = 1,
    tv_prox_iter: int = 50,
    max_iter: int = 1000,
    tol: float = OBJECTIVE_TOL,
    fidelity: DataFidelity | None = None,
    solver: str = "backtracking",
    **solver_options: Any,
) -> tuple[Tensor, Tensor, Tensor | None, SolveState]:
    """Minimise one member of the family for a batch (the generator must be frozen).

    Args:
        physics, y: operator and measurements ``[B, ...]``.
        generator: ``G``.
        z0: starting codes ``[B, d]`` (projected onto the prior's set if it has one).
        deviation: one of :data:`DEVIATIONS`.
        lam: per-image deviation weight ``[B]`` (unused for ``exact``).
        latent_weight: per-image weight of ``R_Z`` ``[B]``.
        prior: the latent prior.
        dev0: starting ``x`` (``l2`` in ``x`` coordinates) or ``u`` (otherwise), ``[B, 1, H, W]``.
        coordinates: ``"x"`` or ``"u"`` for ``l2``; ``l1``/``tv`` always use ``u``.
        x_steps: steps of the ``x``/``u`` block per outer iteration.
        tv_prox_iter: inner FGP iterations of the TV prox (``tv`` only).
        fidelity: the data term ``d(A x, y)`` (default :class:`~genprior.physics.fidelity.SquaredL2`).
        solver: ``"backtracking"`` (the paper's Algorithms 1-3), ``"lbfgs"``, ``"gauss-newton"`` or
            ``"auto"`` (:mod:`genprior.methods.solver_choice`: the same objective, another path).
        max_iter, tol, **solver_options: passed to the solver (``callback`` among them).

    Returns:
        ``(x, z, u, state)`` with ``u = x - G(z)`` for ``l1``/``tv`` (else ``None``).
    """
    check_choice(deviation, DEVIATIONS, "deviation term")
    check_choice(coordinates, COORDINATES, "coordinates")
    term = DEVIATION_TERMS[deviation]
    if x_steps < 1:
        raise InputError(f"x_steps must be >= 1, got {x_steps}")
    if prior.project is not None:
        z0 = prior.project(z0)
    z_prox = prior.prox if prior.project is not None else None
    data = default_fidelity(fidelity)
    solver = resolve_solver(solver, prior, smooth=term.u_block is None, x_steps=x_steps,
                            coordinates="u" if term.exact else coordinates)
    check_solver(solver, DEVIATION_NAMES.get(deviation, deviation), prior, data, smooth=term.u_block is None,
                 least_squares_in_z=term.exact)
    if solver != "backtracking":
        x, z, out = solve_smooth(physics, y, generator, z0, None if term.exact else term.smooth, lam, latent_weight,
                                 prior, data, solver, dev0=dev0, coordinates=coordinates, max_iter=max_iter, tol=tol,
                                 **solver_options)
        return x, z, None, out

    def latent(z: Tensor, gz: Tensor, w: Tensor) -> Tensor:
        return w * prior.value(z, gz)

    if term.exact:
        def make_partial(block, state, idx):
            y_i, w_i = y[idx], latent_weight[idx]

            def phi(z, rows):
                gz = generator(z)
                return data(physics, gz, y_i[rows]) + latent(z, gz, w_i[rows])
            return phi

        out = block_backtracking(make_partial, [Block("z", z0, prox=z_prox)], max_iter=max_iter, tol=tol,
                                 **solver_options)
        z = out.variables["z"]
        with torch.no_grad():
            return generator(z), z, None, out

    if dev0 is None:
        raise InputError("a deviation method needs a starting x or u")
    if term.smooth is not None and coordinates == "x":
        def make_partial(block, state, idx):
            y_i, lam_i, w_i = y[idx], lam[idx], latent_weight[idx]
            with torch.no_grad():
                if block == "z":
                    x, fit = state["x"], data(physics, state["x"], y_i)

                    def phi(z, rows):
                        gz = generator(z)
                        return fit[rows] + lam_i[rows] * term.smooth(x[rows] - gz) + latent(z, gz, w_i[rows])
                    return phi
                gz = generator(state["z"])
                pen = latent(state["z"], gz, w_i)
            return lambda x, rows: data(physics, x, y_i[rows]) + lam_i[rows] * term.smooth(x - gz[rows]) + pen[rows]

        blocks = [Block("z", z0, prox=z_prox), Block("x", dev0, steps=x_steps)]
        out = block_backtracking(make_partial, blocks, max_iter=max_iter, tol=tol, **solver_options)
        return out.variables["x"], out.variables["z"], None, out

    # deviation coordinates: x = G(z) + u
    smooth_u = term.smooth is not None

    def make_partial(block, state, idx):
        y_i, lam_i, w_i = y[idx], lam[idx], latent_weight[idx]
        with torch.no_grad():
            if block == "z":
                u = state["u"]
                dev = lam_i * term.smooth(u) if smooth_u else torch.zeros_like(lam_i)

                def phi(z, rows):
                    gz = generator(z)
                    return data(physics, gz + u[rows], y_i[rows]) + dev[rows] + latent(z, gz, w_i[rows])
                return phi
            gz = generator(state["z"])
            pen = latent(state["z"], gz, w_i)
        if smooth_u:
            return lambda u, rows: data(physics, gz[rows] + u, y_i[rows]) + lam_i[rows] * term.smooth(u) + pen[rows]
        return lambda u, rows: data(physics, gz[rows] + u, y_i[rows]) + pen[rows]

    u_block = Block("u", dev0, steps=x_steps) if smooth_u else term.u_block(lam, dev0, x_steps, tv_prox_iter)
    out = block_backtracking(make_partial, [Block("z", z0, prox=z_prox), u_block], max_iter=max_iter, tol=tol,
                             **solver_options)
    z, u = out.variables["z"], out.variables["u"]
    with torch.no_grad():
        x = generator(z).to(u.dtype) + u
    return x, z, (None if smooth_u else u), out


# solve(y_rep, z0_rep, **per_image_rep) -> (x, z, u, SolveState)
Solve = Callable[..., tuple[Tensor, Tensor, Tensor | None, Any]]


def run_generative(
    method: str,
    physics: LinearPhysics,
    y: Tensor,
    generator: nn.Module | None,
    solve: Solve,
    starts: GenerativeParams,
    batch_values: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    fidelity: DataFidelity | None = None,
) -> Result:
    """The shared driver of the generative methods.

    Checks the inputs, builds ``K = restarts`` starting codes per image, solves all
    ``K * B`` problems in one call ``solve(y, z0, **batch_values)`` (per-image values
    such as ``lam`` or a starting ``x`` are repeated for every start) and keeps the start
    of lowest final objective per image.

    Args:
        method: the method's name (for error messages).
        solve: the batch solver; it receives ``y`` and ``z0`` of ``K * B`` rows.
        starts: the method's parameters; their ``init``, ``seed`` and ``restarts`` make the
            starting codes (:func:`~genprior.methods.restarts.initial_codes`).
        batch_values: keyword arguments of ``solve``; tensors with ``B`` rows are repeated.
        params: the record stored in ``Result.params`` (the method's parameters, :func:`record_of`).
        fidelity: the data term, checked against ``y`` here (``solve`` uses it).
    """
    check_measurements(physics, y, fidelity)
    init, seed = starts.init, starts.seed
    start = time.perf_counter()
    B = y.shape[0]
    with frozen(generator):
        check_generator(generator, physics, y, method)
        codes = initial_codes(generator, physics, y, init, seed, starts.restarts)  # [K, B, d]
        K = codes.shape[0]
        values = {k: repeat_batch(v, K, B) for k, v in (batch_values or {}).items()}
        x, z, u, out = solve(repeat_batch(y, K, B), codes.reshape(K * B, -1), **values)
    record = dict(params or {})
    record.update(restarts=K, fidelity=default_fidelity(fidelity).record())
    result = keep_best(Result.of(out, x, z, u, record), K, B).require_finite(method)
    result.seconds = time.perf_counter() - start
    return result
