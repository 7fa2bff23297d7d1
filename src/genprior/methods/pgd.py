"""Projected gradient descent onto the range of the generator (equation (8); Shah and Hegde 2018).

    w_{t+1} = x_t - (eta / 2) grad d(A x_t, y)      (= x_t - eta A^T (A x_t - y) for d(u, y) = ||u - y||^2)
    z_{t+1} = argmin_z ||w_{t+1} - G(z)||^2 + eta lam R_Z(z)
    x_{t+1} = G(z_{t+1})

With ``lam = 0`` (the default) this is equation (8): a heuristic for the hard problem
``min_z ||A G(z) - y||^2``.  With ``lam > 0`` it is the proximal-gradient method for
``||A x - y||^2 + lam inf{R_Z(z) : G(z) = x}`` with step ``eta / 2`` on the data term
(whose gradient ``2 A^T (A x - y)`` is ``2 ||A||^2``-Lipschitz), i.e. a heuristic for
the hard objective ``||A G(z) - y||^2 + lam R_Z(z)``, which is what the history records.
Set priors (box, sphere) constrain the projection.

Choices: ``eta = 1 = 1 / ||A||^2`` (every operator here has norm 1, so this is the
step ``1 / L`` of the data term); the projection is ``inner_iter`` (default 10)
backtracking gradient steps (Algorithm 1) warm-started from the previous ``z`` *and* the
previous step size of the same image, so later projections, which start close to their
answer, cost a few generator evaluations; at most 200 outer iterations.  Measured on
Shapes tomography (10 images, compact VAE, lam = 0.003, encoder start): eta = 1 reaches
the hard method's objective after about 180 outer iterations (26.2 dB after 100, 28.1
dB after 200; hard: 28.2 dB); eta = 2 after 85; eta = 5 diverges; 3 inner steps
instead of 10 leave the projection too inexact (22.7 dB after 100).  PGD costs about
``inner_iter`` times more generator evaluations per iteration than hard.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genprior.batched import sq_norm
from genprior.methods.common import per_image
from genprior.methods.generative import run_generative
from genprior.methods.latent_priors import make_latent_prior
from genprior.methods.parameters import LAM_HELP, GenerativeParams, record_of
from genprior.params import param
from genprior.physics.fidelity import DataFidelity, default_fidelity
from genprior.physics.operator import LinearPhysics
from genprior.solvers.backtracking import Block, block_backtracking
from genprior.solvers.loop import Callback
from genprior.solvers.projected_gradient import projected_gradient
from genprior.solvers.result import Result


@dataclass(frozen=True)
class PGDParams(GenerativeParams):
    """Parameters of :func:`pgd`; ``lam`` may hold one value per image (0: equation (8) exactly)."""

    lam: float | Tensor = param(0.0, LAM_HELP, minimum=0, grid=(1.0, {0.25: 1e-5, 0.5: 1e-4}))
    eta: float = param(1.0, "gradient step on x (1 / ||A||^2 = 1 for the normalised operators)", above=0)
    inner_iter: int = param(10, "backtracking steps of each (warm-started) projection", minimum=1)
    tol: float = param(1e-5, "per-image stop on ||x+ - x|| / ||x||", minimum=0)


def pgd(physics: LinearPhysics, y: Tensor, generator: nn.Module | None = None, *,
        fidelity: DataFidelity | None = None, callback: Callback | None = None, **params) -> Result:
    """Projected gradient descent ``x <- G(argmin_z ||x - eta A^T(Ax - y) - G(z)||^2 + eta lam R_Z(z))``.

    Args:
        physics, y, generator, fidelity, callback: as for :func:`genprior.methods.hard.hard`
            (the gradient step is ``(eta / 2) grad d(A x, y)`` for another data term).
        **params: the fields of :class:`PGDParams` (``max_iter``: outer iterations at most).
    """
    p = PGDParams.create(params, "method 'pgd'")
    lam, latent_prior, eta, inner_iter = p.lam, p.latent_prior, p.eta, p.inner_iter
    lam_t = per_image(lam, y.shape[0], "lam", y)
    data = default_fidelity(fidelity)

    def solve(y_b, z0, lam_b):
        prior = make_latent_prior(latent_prior, generator)
        if prior.project is not None:
            z0 = prior.project(z0)
        w_b = eta * lam_b
        lips = torch.ones(z0.shape[0], dtype=torch.float64, device=z0.device)

        def latent(z, gz, w):
            return w * prior.value(z, gz)

        def gradient_step(x, idx):
            return x - (eta / 2) * data.gradient(physics, x, y_b[idx])

        def project(w, z, idx):
            target, weight = w.detach(), w_b[idx]

            def make_partial(block, state, sub):
                t, wt = target[sub], weight[sub]

                def phi(zz, rows):
                    gz = generator(zz)
                    return sq_norm(gz - t[rows]) + latent(zz, gz, wt[rows])
                return phi

            out = block_backtracking(make_partial, [Block("z", z, prox=prior.prox if prior.project else None)],
                                     max_iter=inner_iter, tol=1e-9, L0=lips[idx])
            lips[idx] = out.lipschitz["z"]
            z_new = out.variables["z"]
            return z_new, generator(z_new).to(y_b.dtype)

        def objective(z, x, idx):
            return data(physics, x, y_b[idx]) + latent(z, x, lam_b[idx])

        with torch.no_grad():
            x0 = generator(z0).to(y_b.dtype)
        out = projected_gradient(gradient_step, project, objective, z0, x0, max_iter=p.max_iter, tol=p.tol,
                                 callback=callback)
        return out.variables["x"], out.variables["z"], None, out

    return run_generative("pgd", physics, y, generator, solve, p, {"lam_b": lam_t}, record_of(p), fidelity)
