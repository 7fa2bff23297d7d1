"""The relaxed generative regulariser: small deviations from the generator's range.

    min_{x, z} ||A x - y||^2 + lam ||G(z) - x||^2 + lam mu R_Z(z)

solved by alternating gradient descent with backtracking, ``z`` then ``x``
(Algorithm 2, the default), batched with per-image step sizes and stopping.

Convergence for large ``lam``.  Algorithm 2 alternates between two blocks coupled by
``lam ||G(z) - x||^2``: each block can only move as far as the other lets it, so the
number of iterations grows with ``lam``.  Two options keep the objective and change
only the path:

- ``coordinates="u"``: optimise over ``(z, u)`` with ``x = G(z) + u``.  The ``z`` step
  then sees the data directly (``||A(G(z) + u) - y||^2``) and ``u`` is pinned near zero
  by ``lam ||u||^2``, so the blocks decouple as ``lam`` grows (the regime where ``x``
  coordinates are slowest); it is the sparse method's loop with a smooth ``F``.
- ``x_steps=k``: ``k`` backtracking steps on ``x`` per step on ``z``.
- ``solver="lbfgs"``: L-BFGS on ``(z, x)`` or ``(z, u)`` jointly, Armijo backtracking
  (:mod:`genprior.solvers.lbfgs`): curvature across both blocks, so the coupling that
  slows Algorithm 2 is no longer taken one block at a time.  The default (``solver="auto"``,
  ``coordinates="u"``) runs it in ``u`` coordinates; in ``x`` coordinates it stopped early,
  above Algorithm 2's objective, so ``auto`` keeps backtracking there.

Measurements are in ``benchmarks/RESULTS.md`` (bench_methods).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genprior.errors import InputError
from genprior.methods.common import initial_image, per_image
from genprior.methods.generative import COORDINATES, run_generative, solve_generative
from genprior.methods.latent_priors import make_latent_prior
from genprior.methods.parameters import LAM_HELP, MU_HELP, GenerativeParams, record_of
from genprior.methods.solver_choice import resolve_solver
from genprior.params import param
from genprior.physics.fidelity import DataFidelity
from genprior.physics.operator import LinearPhysics
from genprior.solvers.loop import Callback
from genprior.solvers.result import Result

X_INITS = ("random", "generator", "zero")
RELAXED_SOLVERS = ("auto", "backtracking", "lbfgs")  # gauss-newton needs a least-squares problem in z alone


@dataclass(frozen=True)
class RelaxedParams(GenerativeParams):
    """Parameters of :func:`relaxed`; ``lam`` and ``mu`` may hold one value per image."""

    lam: float | Tensor = param(0.4, LAM_HELP, minimum=0, grid=(10.0, {0.25: 1e-2, 0.5: 1e-2}))
    mu: float | Tensor = param(0.1, MU_HELP, minimum=0, grid=(1.0, {0.25: 1e-3, 0.5: 1e-3}))
    x_init: str | Tensor = param("random", "start of x: random (N(0, 1) pixels, the paper's), generator "
                                 "(G(z0)) or zero, or an image tensor", choices=X_INITS, what="x initialisation")
    coordinates: str = param("u", "u (x = G(z) + u; much faster for large lam) or x (Algorithm 2, the "
                             "paper's)", choices=COORDINATES)
    x_steps: int = param(1, "steps of the x (or u) block per z step (solver backtracking)", minimum=1)
    solver: str = param("auto", "auto (lbfgs in u coordinates with x_steps 1, else backtracking), backtracking "
                        "(Algorithm 2, the paper's) or lbfgs (quasi-Newton on z and x or u jointly; the same "
                        "objective)", choices=RELAXED_SOLVERS)
    max_iter: int = param(3000, "iteration limit", minimum=1)


def relaxed(physics: LinearPhysics, y: Tensor, generator: nn.Module | None = None, *,
            fidelity: DataFidelity | None = None, callback: Callback | None = None, **params) -> Result:
    """Minimise ``d(A x, y) + lam ||G(z) - x||^2 + lam mu R_Z(z)`` over ``x`` and ``z`` (``d(u, y) = ||u - y||^2`` by default).

    Args:
        physics, y, generator, fidelity, callback: as for :func:`genprior.methods.hard.hard`.
        **params: the fields of :class:`RelaxedParams`.
    """
    p = RelaxedParams.create(params, "method 'relaxed'")
    if p.x_steps != 1 and p.solver == "lbfgs":
        raise InputError("x_steps is a step count of solver='backtracking'; solver='lbfgs' moves every variable in "
                         "each step: leave x_steps at 1 or choose solver='backtracking'")
    B = y.shape[0]
    lam_t = per_image(p.lam, B, "lam", y)
    lam_mu_t = lam_t * per_image(p.mu, B, "mu", y)
    x0 = initial_image(physics, y, p.x_init, p.seed, X_INITS)

    record = record_of(p)

    def solve(y_b, z0, lam_b, w_b, x0_b):
        prior = make_latent_prior(p.latent_prior, generator)
        record["solver"] = resolve_solver(p.solver, prior, x_steps=p.x_steps, coordinates=p.coordinates)
        if x0_b is None:
            with torch.no_grad():
                x0_b = generator(prior.project(z0) if prior.project is not None else z0).to(y.dtype)
        dev0 = x0_b
        if p.coordinates == "u":
            with torch.no_grad():
                dev0 = x0_b - generator(prior.project(z0) if prior.project is not None else z0).to(y.dtype)
        return solve_generative(physics, y_b, generator, z0, "l2", lam_b, w_b, prior, dev0=dev0,
                                coordinates=p.coordinates, x_steps=p.x_steps, max_iter=p.max_iter, tol=p.tol,
                                fidelity=fidelity, callback=callback, solver=record["solver"])

    return run_generative("relaxed", physics, y, generator, solve, p, {"lam_b": lam_t, "w_b": lam_mu_t, "x0_b": x0},
                          record, fidelity)
