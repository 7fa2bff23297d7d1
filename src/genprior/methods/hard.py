"""The hard generative regulariser: solutions exactly in the range of the generator.

    z* = argmin_z ||A G(z) - y||^2 + lam R_Z(z),     x* = G(z*)

(equation (3) of the paper with ``R_Z = ||z||^2``), solved by gradient descent with
backtracking on ``z`` (Algorithm 1; projected for the box and sphere priors), batched
over images with per-image step sizes and stopping.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from genprior.methods.common import param_record, per_image
from genprior.methods.generative import run_generative, solve_generative
from genprior.methods.latent_priors import make_latent_prior
from genprior.physics.operator import LinearPhysics
from genprior.solvers.backtracking import OBJECTIVE_TOL
from genprior.solvers.result import Result


def hard(
    physics: LinearPhysics,
    y: Tensor,
    generator: nn.Module | None = None,
    lam: float | Tensor = 0.01,
    latent_prior: str = "l2",
    init: str | Tensor = "random",
    restarts: int = 1,
    seed: int = 0,
    max_iter: int = 1000,
    tol: float = OBJECTIVE_TOL,
    **solver_options: Any,
) -> Result:
    """Reconstruct ``x = G(z*)`` with ``z* = argmin ||A G(z) - y||^2 + lam R_Z(z)``.

    Args:
        physics: the forward operator (``A`` / ``A_adjoint``).
        y: measurements ``[B, *out_shape]``.
        generator: ``G: [B, d] -> [B, 1, H, W]`` with ``latent_dim``.
        lam: weight of the latent penalty (``alpha`` in the authors' code); a number or
            one value per image (to solve a parameter grid as one batch).  Unused by the
            ``box`` and ``sphere`` constraints.
        latent_prior: ``R_Z``: ``"l2"`` (``||z||^2``), ``"box"``, ``"sphere"``, ``"critic"``, ``"tv"``.
        init: ``"random"`` (``z ~ N(0, I)``), ``"encoder"``, codes ``[B, d]`` or ``[K, B, d]``.
        restarts: starts per image ``K`` (best final objective kept).
        seed: seed of the random initialisation.
        max_iter, tol, **solver_options: passed to :func:`block_backtracking`.
    """
    lam_t = per_image(lam, y.shape[0], "lam", y)

    def solve(y_b, z0, lam_b):
        prior = make_latent_prior(latent_prior, generator)
        return solve_generative(physics, y_b, generator, z0, "exact", lam_b, lam_b, prior, max_iter=max_iter,
                                tol=tol, **solver_options)

    return run_generative("hard", physics, y, generator, solve, init, seed, restarts, {"lam_b": lam_t},
                          {"lam": param_record(lam), "latent_prior": latent_prior, "max_iter": max_iter})
