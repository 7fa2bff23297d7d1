"""Which solver minimises a generative method's objective: the paper's backtracking, L-BFGS or Gauss-Newton.

Every solver minimises the same objective and stops by the same rule
(:mod:`genprior.solvers.stopping`); they differ in the path:

- ``auto`` (the default of hard and relaxed): ``lbfgs`` where it applies (smooth, no set
  prior; relaxed in ``u`` coordinates), else ``backtracking``.
- ``backtracking``: block gradient / prox-gradient steps with backtracking, the paper's
  Algorithms 1-3 (its iteration counts compare with the paper); every method.
- ``lbfgs``: L-BFGS on all smooth variables jointly with Armijo backtracking and a trust
  radius on its first quasi-Newton steps, which keeps them near the start's basin
  (:func:`genprior.solvers.lbfgs.lbfgs`); hard, relaxed (x or u coordinates) and the
  projection, with smooth latent priors.
- ``gauss-newton``: Levenberg-Marquardt in ``z`` with the Jacobian ``A dG/dz`` by
  forward-mode products (:func:`genprior.solvers.gauss_newton.gauss_newton`); hard and the
  projection with the squared-L2 data term and the ``l2`` (or no) latent prior, ``d`` small.

Where a solver does not apply, :func:`check_solver` says why in one line: the set
priors (box, sphere) need a projection step, which only backtracking takes; the
sparse methods' ``||u||_1`` and ``TV(u)`` are not smooth, so L-BFGS does not apply to
them (their ``u`` step is a proximal step); Gauss-Newton forms a ``d``-column Jacobian
of the residual, so it needs a least-squares objective in ``z`` alone (relaxed and
sparse also carry an image-sized ``u``, for which L-BFGS is the quasi-Newton choice).
Gauss-Newton's cost per iteration grows with ``d`` (``d`` forward-mode passes of the
generator): for large latent spaces (``d = 800``) choose L-BFGS.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from genprior.batched import sq_norm
from genprior.errors import InputError
from genprior.methods.latent_priors import LatentPrior
from genprior.physics.fidelity import DataFidelity, SquaredL2
from genprior.solvers.gauss_newton import Model, Value, forward_jacobian
from genprior.validation import check_choice

SOLVERS = ("auto", "backtracking", "lbfgs", "gauss-newton")
SOLVER_HELP = ("auto (lbfgs where it applies, else backtracking), backtracking (the paper's Algorithms 1-3), lbfgs "
               "(quasi-Newton on the same objective) or gauss-newton (Levenberg-Marquardt in z; hard only)")


def resolve_solver(solver: str, prior: LatentPrior | None = None, smooth: bool = True, x_steps: int = 1,
                   coordinates: str = "u") -> str:
    """The solver ``"auto"`` stands for: ``"lbfgs"`` where it applies and was measured faster to the
    same or a lower objective (benchmarks/RESULTS.md, bench_latent_solvers), else ``"backtracking"``.

    L-BFGS applies to a smooth objective with no set constraint on ``z`` (box, sphere) and
    one step per block; for the relaxed objective in ``x`` coordinates it stopped early, at a
    higher objective than Algorithm 2, so ``auto`` keeps backtracking there.  No ``prior``: an
    objective without a latent prior (the projection onto the range).  Other names are
    returned unchanged.
    """
    if solver != "auto":
        return solver
    fits = (prior is None or prior.project is None) and smooth and x_steps == 1 and coordinates == "u"
    return "lbfgs" if fits else "backtracking"


def check_solver(solver: str, method: str, prior: LatentPrior | None = None, fidelity: DataFidelity | None = None,
                 smooth: bool = True, least_squares_in_z: bool = False) -> str:
    """Raise :class:`InputError` (one line, the reason and the alternative) unless ``solver`` applies.

    Args:
        solver: one of :data:`SOLVERS`.
        method: the method's name, for the message.
        prior: the latent prior (set priors need backtracking's projection step).
        fidelity: the data term (Gauss-Newton needs the squared-L2 one).
        smooth: whether the objective is smooth in every variable (L-BFGS needs it).
        least_squares_in_z: whether the objective is a sum of squares in ``z`` alone (Gauss-Newton needs it).
    """
    check_choice(solver, SOLVERS, "solver")
    if solver in ("auto", "backtracking"):
        return solver
    if prior is not None and prior.project is not None:
        raise InputError(f"solver {solver!r} cannot keep z in the set of the {prior.name!r} latent prior (a "
                         "projection step); use solver='backtracking' with it")
    if not smooth:
        raise InputError(f"method {method!r} has a non-smooth deviation term (a proximal step on u); solver "
                         f"{solver!r} does not apply to it: use solver='backtracking'")
    if solver == "gauss-newton":
        if not least_squares_in_z:
            raise InputError(f"solver 'gauss-newton' needs a least-squares objective in z alone (hard, the "
                             f"projection); method {method!r} also solves for an image: use solver='lbfgs'")
        if fidelity is not None and type(fidelity) is not SquaredL2:
            raise InputError(f"solver 'gauss-newton' needs the squared-L2 data term, not {fidelity.name!r}; use "
                             "solver='lbfgs'")
        if prior is not None and prior.name != "l2":
            raise InputError(f"solver 'gauss-newton' needs the l2 latent prior (a sum of squares), not "
                             f"{prior.name!r}; use solver='lbfgs'")
    return solver


def least_squares(generator: nn.Module, apply: Callable[[Tensor], Tensor], y: Tensor,
                  weight: Tensor | None) -> tuple[Value, Model]:
    """``f(z) = ||apply(G(z)) - y||^2 + w ||z||^2`` per image, and its Gauss-Newton model.

    ``apply`` is the (linear) forward operator ``A`` (the identity for the projection),
    ``weight`` the per-image ``w`` ``[B]`` (``None``: no latent term).  The model gives
    ``grad f = 2 (J^T r + w z)`` and ``H = 2 (J^T J + w I)`` with ``r = A G(z) - y`` and
    ``J = A dG/dz``: the generator's ``d`` directional derivatives by forward mode, then ``A``
    on each (it is linear, so no differentiation through it).

    Returns:
        ``(value, model)`` for :func:`genprior.solvers.gauss_newton.gauss_newton`.
    """
    def latent(z: Tensor, index: Tensor) -> Tensor:
        return torch.zeros(z.shape[0], dtype=torch.float64, device=z.device) if weight is None \
            else weight[index].to(torch.float64) * sq_norm(z)

    def value(z: Tensor, index: Tensor) -> Tensor:
        return sq_norm(apply(generator(z)) - y[index]) + latent(z, index)

    def model(z: Tensor, index: Tensor) -> tuple[Tensor, Tensor]:
        b, d = z.shape
        gz, jac = forward_jacobian(generator, z)  # [b, 1, H, W], [b, d, 1, H, W]
        r = (apply(gz) - y[index]).reshape(b, -1)  # [b, m]
        ja = apply(jac.reshape(b * d, *gz.shape[1:])).reshape(b, d, -1)  # [b, d, m]: J^T, row k = A dG/dz_k
        jr = torch.bmm(ja, r.unsqueeze(2)).squeeze(2).to(torch.float64)  # J^T r [b, d]
        jj = torch.bmm(ja, ja.transpose(1, 2)).to(torch.float64)  # J^T J [b, d, d]
        if weight is not None:
            w = weight[index].to(torch.float64)
            jr = jr + w.unsqueeze(1) * z.to(torch.float64)
            jj = jj + w[:, None, None] * torch.eye(d, dtype=torch.float64, device=z.device)
        return 2.0 * jr, 2.0 * jj

    return value, model


def solve_smooth(physics, y: Tensor, generator: nn.Module, z0: Tensor, deviation: Callable[[Tensor], Tensor] | None,
                 lam: Tensor, latent_weight: Tensor, prior: LatentPrior, data: DataFidelity, solver: str,
                 dev0: Tensor | None = None, coordinates: str = "x", **options):
    """Minimise the hard (``deviation=None``) or a smooth-deviation objective by ``lbfgs`` or ``gauss-newton``.

    The objectives are those of :func:`genprior.methods.generative.solve_generative`:
    ``d(A G(z), y) + w R_Z(z)`` (hard), ``d(A x, y) + lam F(x - G(z)) + w R_Z(z)`` over
    ``(z, x)`` (``coordinates="x"``) or ``d(A (G(z) + u), y) + lam F(u) + w R_Z(z)`` over
    ``(z, u)`` (``"u"``); ``options`` go to the solver (``max_iter``, ``tol``, ``callback``, ...).

    Returns:
        ``(x, z, state)``.
    """
    from genprior.solvers.gauss_newton import gauss_newton
    from genprior.solvers.lbfgs import lbfgs

    def latent(z: Tensor, gz: Tensor, index: Tensor) -> Tensor:
        return latent_weight[index] * prior.value(z, gz)

    if deviation is None:
        if solver == "gauss-newton":
            value, model = least_squares(generator, physics.A, y, latent_weight)
            state = gauss_newton(value, model, z0, **options)
        else:
            def objective(v: dict[str, Tensor], index: Tensor) -> Tensor:
                gz = generator(v["z"])
                return data(physics, gz, y[index]) + latent(v["z"], gz, index)
            state = lbfgs(objective, {"z": z0}, **options)
        z = state.variables["z"]
        with torch.no_grad():
            return generator(z), z, state
    if dev0 is None:
        raise InputError("a deviation method needs a starting x or u")
    name = "x" if coordinates == "x" else "u"

    def joint(v: dict[str, Tensor], index: Tensor) -> Tensor:
        z, w = v["z"], v[name]
        gz = generator(z).to(w.dtype)
        x, u = (w, w - gz) if name == "x" else (gz + w, w)
        return data(physics, x, y[index]) + lam[index] * deviation(u) + latent(z, gz, index)

    state = lbfgs(joint, {"z": z0, name: dev0}, **options)
    z, w = state.variables["z"], state.variables[name]
    with torch.no_grad():
        x = w if name == "x" else generator(z).to(w.dtype) + w
    return x, z, state


__all__ = ["SOLVERS", "SOLVER_HELP", "check_solver", "least_squares", "resolve_solver", "solve_smooth"]
