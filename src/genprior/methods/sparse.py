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

from dataclasses import dataclass

from torch import Tensor, nn

from genprior.methods.common import initial_image, per_image
from genprior.methods.generative import run_generative, solve_generative
from genprior.methods.latent_priors import make_latent_prior
from genprior.methods.parameters import LAM_HELP, MU_HELP, GenerativeParams, record_of
from genprior.params import param
from genprior.physics.fidelity import DataFidelity
from genprior.physics.operator import LinearPhysics
from genprior.solvers.loop import Callback
from genprior.solvers.result import Result

U_INITS = ("zero", "random")  # u = 0 starts at x = G(z0); "generator" would double it
_LAM_GRID = (10.0, {0.25: 1e-2, 0.5: 1e-2})
_MU_GRID = (1.0, {0.25: 1e-3, 0.5: 1e-3})


@dataclass(frozen=True)
class SparseParams(GenerativeParams):
    """Parameters of :func:`sparse`; ``lam`` and ``mu`` may hold one value per image."""

    lam: float | Tensor = param(0.4, LAM_HELP, minimum=0, grid=_LAM_GRID)
    mu: float | Tensor = param(0.03, MU_HELP, minimum=0, grid=_MU_GRID)
    u_init: str | Tensor = param("zero", "start of u: zero (x = G(z0)) or random, or a tensor",
                                 choices=U_INITS, what="u initialisation", flag="--x-init")
    max_iter: int = param(3000, "iteration limit", minimum=1)


@dataclass(frozen=True)
class SparseTVParams(SparseParams):
    """Parameters of :func:`sparse_tv`."""

    lam: float | Tensor = param(0.05, LAM_HELP, minimum=0, grid=_LAM_GRID)
    mu: float | Tensor = param(0.1, MU_HELP, minimum=0, grid=_MU_GRID)
    tv_prox_iter: int = param(50, "FGP iterations of each warm-started TV prox", minimum=1)


def _sparse(name: str, deviation: str, physics, y: Tensor, generator, p: SparseParams,
            fidelity: DataFidelity | None, callback: Callback | None) -> Result:
    B = y.shape[0]
    lam_t = per_image(p.lam, B, "lam", y)
    lam_mu_t = lam_t * per_image(p.mu, B, "mu", y)
    u0 = initial_image(physics, y, p.u_init, p.seed, U_INITS, name="u")
    extra = {"tv_prox_iter": p.tv_prox_iter} if isinstance(p, SparseTVParams) else {}

    def solve(y_b, z0, lam_b, w_b, u0_b):
        prior = make_latent_prior(p.latent_prior, generator)
        return solve_generative(physics, y_b, generator, z0, deviation, lam_b, w_b, prior, dev0=u0_b,
                                max_iter=p.max_iter, tol=p.tol, fidelity=fidelity, callback=callback, **extra)

    return run_generative(name, physics, y, generator, solve, p, {"lam_b": lam_t, "w_b": lam_mu_t, "u0_b": u0},
                          record_of(p), fidelity)


def sparse(physics: LinearPhysics, y: Tensor, generator: nn.Module | None = None, *,
           fidelity: DataFidelity | None = None, callback: Callback | None = None, **params) -> Result:
    """Minimise ``d(A (G(z) + u), y) + lam ||u||_1 + lam mu R_Z(z)``; ``x = G(z) + u`` (``d(u, y) = ||u - y||^2`` by default).

    Args:
        physics, y, generator, fidelity, callback: as for :func:`genprior.methods.hard.hard`.
        **params: the fields of :class:`SparseParams`.
    """
    return _sparse("sparse", "l1", physics, y, generator, SparseParams.create(params, "method 'sparse'"), fidelity,
                   callback)


def sparse_tv(physics: LinearPhysics, y: Tensor, generator: nn.Module | None = None, *,
              fidelity: DataFidelity | None = None, callback: Callback | None = None, **params) -> Result:
    """Minimise ``d(A (G(z) + u), y) + lam TV(u) + lam mu R_Z(z)``; ``x = G(z) + u`` (``d(u, y) = ||u - y||^2`` by default).

    Args:
        physics, y, generator, fidelity, callback: as for :func:`genprior.methods.hard.hard`.
        **params: the fields of :class:`SparseTVParams`.
    """
    return _sparse("sparse-tv", "tv", physics, y, generator, SparseTVParams.create(params, "method 'sparse-tv'"),
                   fidelity, callback)
