"""Sparse deviations from the generator's range (Dhar et al. 2018; the paper's "sparse").

    sparse:     min_{z, u} ||A (G(z) + u) - y||^2 + lam ||u||_1 + lam mu R_Z(z)
    sparse-TV:  min_{z, u} ||A (G(z) + u) - y||^2 + lam TV(u) + lam mu R_Z(z)

with ``x = G(z) + u``, solved by PALM with backtracking (Algorithm 3, growing ``L_u``
on a failed test as intended): a gradient step on ``z`` (projected for set priors),
then a proximal-gradient step on ``u``.  The prox of ``||.||_1`` is the soft threshold;
the prox of TV is computed by ``tv_prox_iter`` FGP iterations on its dual, warm-started
from the previous dual of the same image (:class:`genprior.solvers.tv_prox.WarmTVProx`).
The sparse-TV variant is the paper's Shapes+ experiment (Section 5.4).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from genprior.methods.common import param_record, per_image
from genprior.methods.generative import run_generative, solve_generative
from genprior.methods.latent_priors import make_latent_prior
from genprior.methods.relaxed import initial_image
from genprior.physics.operator import LinearPhysics
from genprior.solvers.backtracking import OBJECTIVE_TOL
from genprior.solvers.result import Result

U_INITS = ("zero", "random")  # u = 0 starts at x = G(z0); "generator" would double it


def _sparse(name: str, deviation: str, physics, y: Tensor, generator, lam, mu, latent_prior, init, u_init, restarts,
            seed, max_iter, tol, tv_prox_iter, solver_options) -> Result:
    B = y.shape[0]
    lam_t = per_image(lam, B, "lam", y)
    lam_mu_t = lam_t * per_image(mu, B, "mu", y)
    u0 = initial_image(physics, y, u_init, seed, name="u", choices=U_INITS)

    def solve(y_b, z0, lam_b, w_b, u0_b):
        prior = make_latent_prior(latent_prior, generator)
        return solve_generative(physics, y_b, generator, z0, deviation, lam_b, w_b, prior, dev0=u0_b,
                                tv_prox_iter=tv_prox_iter, max_iter=max_iter, tol=tol, **solver_options)

    record = {"lam": param_record(lam), "mu": param_record(mu), "latent_prior": latent_prior,
              "u_init": u_init if isinstance(u_init, str) else "tensor", "max_iter": max_iter}
    if deviation == "tv":
        record["tv_prox_iter"] = tv_prox_iter
    return run_generative(name, physics, y, generator, solve, init, seed, restarts,
                          {"lam_b": lam_t, "w_b": lam_mu_t, "u0_b": u0}, record)


def sparse(
    physics: LinearPhysics,
    y: Tensor,
    generator: nn.Module | None = None,
    lam: float | Tensor = 0.4,
    mu: float | Tensor = 0.03,
    latent_prior: str = "l2",
    init: str | Tensor = "random",
    u_init: str | Tensor = "zero",
    restarts: int = 1,
    seed: int = 0,
    max_iter: int = 3000,
    tol: float = OBJECTIVE_TOL,
    **solver_options: Any,
) -> Result:
    """Minimise ``||A (G(z) + u) - y||^2 + lam ||u||_1 + lam mu R_Z(z)``; ``x = G(z) + u``.

    Args:
        physics, y, generator, latent_prior, init, restarts, seed: as for :func:`genprior.methods.hard.hard`.
        lam, mu: numbers or one value per image.
        u_init: ``"zero"`` (start at ``x = G(z0)``), ``"random"`` (``N(0, 1)``) or a tensor.
        max_iter, tol, **solver_options: passed to :func:`block_backtracking`.
    """
    return _sparse("sparse", "l1", physics, y, generator, lam, mu, latent_prior, init, u_init, restarts, seed,
                   max_iter, tol, 50, solver_options)


def sparse_tv(
    physics: LinearPhysics,
    y: Tensor,
    generator: nn.Module | None = None,
    lam: float | Tensor = 0.05,
    mu: float | Tensor = 0.1,
    latent_prior: str = "l2",
    init: str | Tensor = "random",
    u_init: str | Tensor = "zero",
    restarts: int = 1,
    seed: int = 0,
    max_iter: int = 3000,
    tol: float = OBJECTIVE_TOL,
    tv_prox_iter: int = 50,
    **solver_options: Any,
) -> Result:
    """Minimise ``||A (G(z) + u) - y||^2 + lam TV(u) + lam mu R_Z(z)``; ``x = G(z) + u``.

    Args:
        as for :func:`sparse`; ``tv_prox_iter``: FGP iterations of each warm-started TV prox.
    """
    return _sparse("sparse-tv", "tv", physics, y, generator, lam, mu, latent_prior, init, u_init, restarts, seed,
                   max_iter, tol, tv_prox_iter, solver_options)
