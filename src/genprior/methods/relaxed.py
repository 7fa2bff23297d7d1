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

Measurements are in ``benchmarks/RESULTS.md`` (bench_methods).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from genprior.methods.common import initial_image as common_initial_image
from genprior.methods.common import param_record, per_image
from genprior.methods.generative import COORDINATES, run_generative, solve_generative
from genprior.methods.latent_priors import make_latent_prior
from genprior.physics.operator import LinearPhysics
from genprior.solvers.backtracking import OBJECTIVE_TOL
from genprior.solvers.result import Result
from genprior.validation import check_choice

X_INITS = ("random", "generator", "zero")


def initial_image(physics: LinearPhysics, y: Tensor, x_init: str | Tensor, seed: int, name: str = "x",
                  choices: tuple[str, ...] = X_INITS) -> Tensor | None:
    """The start of ``x`` (or ``u``) of a generative method: one of ``choices`` or a tensor;
    random pixels come from ``seed + 1`` (``seed`` itself draws the codes ``z0``)."""
    return common_initial_image(physics, y, x_init, seed + 1, choices, name)


def relaxed(
    physics: LinearPhysics,
    y: Tensor,
    generator: nn.Module | None = None,
    lam: float | Tensor = 0.4,
    mu: float | Tensor = 0.1,
    latent_prior: str = "l2",
    init: str | Tensor = "random",
    x_init: str | Tensor = "random",
    restarts: int = 1,
    coordinates: str = "x",
    x_steps: int = 1,
    seed: int = 0,
    max_iter: int = 3000,
    tol: float = OBJECTIVE_TOL,
    **solver_options: Any,
) -> Result:
    """Minimise ``||A x - y||^2 + lam ||G(z) - x||^2 + lam mu R_Z(z)`` over ``x`` and ``z``.

    Args:
        physics, y, generator, latent_prior, init, restarts, seed: as for :func:`genprior.methods.hard.hard`.
        lam: weight of the distance to the range of ``G``.
        mu: relative weight of the latent penalty.  ``lam`` and ``mu`` may be numbers or
            hold one value per image.
        x_init: ``"random"`` (i.i.d. ``N(0, 1)`` pixels, the paper's choice), ``"generator"``
            (``x0 = G(z0)``), ``"zero"`` or an image tensor.
        coordinates: ``"x"`` (Algorithm 2 on ``(z, x)``, the paper's) or ``"u"`` (PALM on
            ``(z, u)``, ``x = G(z) + u``; much faster for large ``lam``).
        x_steps: steps of the ``x`` (or ``u``) block per ``z`` step.
    """
    check_choice(coordinates, COORDINATES, "coordinates")
    B = y.shape[0]
    lam_t = per_image(lam, B, "lam", y)
    lam_mu_t = lam_t * per_image(mu, B, "mu", y)
    x0 = initial_image(physics, y, x_init, seed)

    def solve(y_b, z0, lam_b, w_b, x0_b):
        prior = make_latent_prior(latent_prior, generator)
        if x0_b is None:
            with torch.no_grad():
                x0_b = generator(prior.project(z0) if prior.project is not None else z0).to(y.dtype)
        dev0 = x0_b
        if coordinates == "u":
            with torch.no_grad():
                dev0 = x0_b - generator(prior.project(z0) if prior.project is not None else z0).to(y.dtype)
        return solve_generative(physics, y_b, generator, z0, "l2", lam_b, w_b, prior, dev0=dev0,
                                coordinates=coordinates, x_steps=x_steps, max_iter=max_iter, tol=tol, **solver_options)

    return run_generative(
        "relaxed", physics, y, generator, solve, init, seed, restarts, {"lam_b": lam_t, "w_b": lam_mu_t, "x0_b": x0},
        {"lam": param_record(lam), "mu": param_record(mu), "latent_prior": latent_prior,
         "x_init": x_init if isinstance(x_init, str) else "tensor", "coordinates": coordinates, "x_steps": x_steps,
         "max_iter": max_iter},
    )
