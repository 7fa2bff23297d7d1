"""The hard generative regulariser: solutions exactly in the range of the generator.

    z* = argmin_z ||A G(z) - y||^2 + lam R_Z(z),     x* = G(z*)

(equation (3) of the paper with ``R_Z = ||z||^2``), solved by gradient descent with
backtracking on ``z`` (Algorithm 1; projected for the box and sphere priors), batched
over images with per-image step sizes and stopping (``solver="backtracking"``); or, on the
same objective, by L-BFGS (``solver="lbfgs"``, what the default ``"auto"`` runs unless the
prior is a set) or Levenberg-Marquardt with the Jacobian ``A dG/dz``
(``solver="gauss-newton"``; :mod:`genprior.methods.solver_choice`).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from genprior.methods.common import per_image
from genprior.methods.generative import run_generative, solve_generative
from genprior.methods.latent_priors import make_latent_prior
from genprior.methods.parameters import LAM_HELP, GenerativeParams, record_of
from genprior.methods.solver_choice import SOLVER_HELP, SOLVERS, resolve_solver
from genprior.params import param
from genprior.physics.fidelity import DataFidelity
from genprior.physics.operator import LinearPhysics
from genprior.solvers.loop import Callback
from genprior.solvers.result import Result


@dataclass(frozen=True)
class HardParams(GenerativeParams):
    """Parameters of :func:`hard`: ``lam`` weighs ``R_Z`` (``alpha`` in the authors' code; a number
    or one value per image, to solve a parameter grid as one batch; unused by the box and
    sphere constraints)."""

    lam: float | Tensor = param(0.01, LAM_HELP, minimum=0, grid=(1.0, {0.25: 1e-5, 0.5: 1e-4}))
    solver: str = param("auto", SOLVER_HELP, choices=SOLVERS)


def hard(physics: LinearPhysics, y: Tensor, generator: nn.Module | None = None, *,
         fidelity: DataFidelity | None = None, callback: Callback | None = None, **params) -> Result:
    """Reconstruct ``x = G(z*)`` with ``z* = argmin d(A G(z), y) + lam R_Z(z)`` (``d(u, y) = ||u - y||^2`` by default).

    Args:
        physics: the forward operator (``A`` / ``A_adjoint``).
        y: measurements ``[B, *out_shape]``.
        generator: ``G: [B, d] -> [B, 1, H, W]`` with ``latent_dim``.
        fidelity: the data term (default :class:`~genprior.physics.fidelity.SquaredL2`).
        callback: called after every iteration (:func:`genprior.solvers.loop.iterate`; its
            indices count the ``restarts x B`` problems solved together).
        **params: the fields of :class:`HardParams` (``lam``, ``latent_prior``, ``init``,
            ``restarts``, ``seed``, ``max_iter``, ``tol``, ``solver``).
    """
    p = HardParams.create(params, "method 'hard'")
    lam_t = per_image(p.lam, y.shape[0], "lam", y)

    record = record_of(p)

    def solve(y_b, z0, lam_b):
        prior = make_latent_prior(p.latent_prior, generator)
        record["solver"] = resolve_solver(p.solver, prior)  # the solver that ran, not "auto"
        return solve_generative(physics, y_b, generator, z0, "exact", lam_b, lam_b, prior, max_iter=p.max_iter,
                                tol=p.tol, fidelity=fidelity, callback=callback, solver=record["solver"])

    return run_generative("hard", physics, y, generator, solve, p, {"lam_b": lam_t}, record, fidelity)
