"""Batched Gauss-Newton / Levenberg-Marquardt in a small latent space, on the one iteration loop.

For ``f(z) = ||r(z)||^2`` with a residual ``r`` (for the hard method
``r(z) = (A G(z) - y, sqrt(w) z)``) and ``z`` of small dimension ``d``, the caller gives
at each point the gradient ``grad f = 2 J^T r`` and the Gauss-Newton curvature
``H = 2 J^T J`` (``[b, d, d]``; the Jacobian ``J = A dG/dz`` by forward-mode products,
:func:`forward_jacobian`).  Iteration ``k`` of image ``b`` solves the damped system

    (H + mu I) dz = -grad f

(``d x d``, float64) and tests the step against the decrease its quadratic model
predicts, ``pred = -(grad^T dz + dz^T H dz / 2) > 0``: the step is accepted when the
actual decrease is a fraction of it, ``f(z) - f(z + dz) >= c1 pred`` (the Armijo-type
sufficient-decrease test; as ``mu`` grows the step tends to the gradient step
``-grad f / mu``, the paper's step with ``L = mu``, so the test can always be met).
The damping follows Nielsen's rule: after an accepted step with ratio
``rho = actual / pred``, ``mu *= max(1/3, 1 - (2 rho - 1)^3)`` and ``nu = 2``; after a
rejected one ``mu *= nu`` and ``nu *= 2``.  ``mu`` starts at ``damping * max diag(H)``
of the image's first point (Madsen, Nielsen and Tingleff, *Methods for non-linear
least squares problems*, 2004, Algorithm 3.16).  Near a minimum with small residuals the
steps are Gauss-Newton steps and converge in a few iterations; each iteration costs a
Jacobian (``d`` forward-mode products, batched) and one objective evaluation per try.

Stopping is the rule every solver here shares (:mod:`genprior.solvers.stopping`), plus
a step too small to change ``z`` (stationary to working precision).  An image whose
``max_tries`` tries all fail stalls.  Statistics per iteration: ``objective``,
``damping`` (``mu`` after the iteration), ``ratio`` (``rho`` of the accepted step).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from genprior.errors import InputError
from genprior.solvers.loop import Callback, History, Report, SolveState, iterate
from genprior.solvers.precision import ieee_float32
from genprior.solvers.stopping import OBJECTIVE_TOL, check_stopping, objective_flat

# value(z [b, d], index [b]) -> f [b] (float64)
Value = Callable[[Tensor, Tensor], Tensor]
# model(z [b, d], index [b]) -> (grad f [b, d], H [b, d, d]), float64
Model = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


#: Rows times tangents per forward-mode pass of :func:`forward_jacobian`: the rows go in chunks of
#: ``max(1, JACOBIAN_BATCH // d)``.  One pass over all rows is slower per row: on the Shapes GAN (d = 10,
#: 56x56, one CPU thread) the Jacobian of 400 codes took 7.5 s in one pass and 3.0 s in chunks of 5 rows
#: (the tangents of a large batch no longer fit the caches; benchmarks/RESULTS.md, bench_a1_gan).
JACOBIAN_BATCH = 64


def forward_jacobian(fn: Callable[[Tensor], Tensor], z: Tensor) -> tuple[Tensor, Tensor]:
    """``(fn(z), J)`` with ``J[b, k] = d fn(z)_b / d z_{b, k}``, shaped ``[b, d, *out]``, by forward mode.

    ``fn`` maps ``[b, d]`` to ``[b, *out]`` row by row (a generator); the ``d`` directional
    derivatives of every row are computed by ``torch.func.jacfwd`` under ``vmap`` (one
    primal pass, ``d`` batched tangent passes), :data:`JACOBIAN_BATCH` row-tangents at a time.

    Raises:
        InputError: ``fn`` cannot be differentiated in forward mode (a module with an
            operation ``torch.func`` does not support).
    """
    from torch.func import jacfwd, vmap

    def single(zi: Tensor) -> tuple[Tensor, Tensor]:
        out = fn(zi.unsqueeze(0)).squeeze(0)
        return out, out

    chunk = max(1, JACOBIAN_BATCH // max(1, z.shape[1]))
    try:
        parts = [vmap(jacfwd(single, has_aux=True))(rows) for rows in z.detach().split(chunk)]
        jac, value = torch.cat([j for j, _ in parts]), torch.cat([v for _, v in parts])  # [b, *out, d], [b, *out]
    except (RuntimeError, NotImplementedError) as exc:
        raise InputError(f"the Gauss-Newton solver differentiates the generator in forward mode (torch.func.jacfwd) "
                         f"and this model does not allow it ({str(exc).splitlines()[0]}); choose solver='lbfgs'") \
            from None
    return value, jac.movedim(-1, 1)


def gauss_newton(
    value: Value,
    model: Model,
    z0: Tensor,
    max_iter: int = 1000,
    tol: float = OBJECTIVE_TOL,
    damping: float = 1e-3,
    c1: float = 1e-4,
    max_tries: int = 60,
    window: int = 10,
    callback: Callback | None = None,
) -> SolveState:
    """Minimise ``f`` over ``z`` ``[B, d]`` by batched Levenberg-Marquardt (module docstring).

    Args:
        value: ``f(z, index) -> [b]`` for the rows ``index`` of the batch.
        model: ``(grad f, H)`` at ``z`` for the rows ``index``; ``H`` symmetric positive semi-definite.
        z0: starting codes ``[B, d]``.
        max_iter, tol, window: the cap and the stopping rule (:mod:`genprior.solvers.stopping`).
        damping: ``mu`` at the start, relative to the largest diagonal entry of ``H``.
        c1: the fraction of the predicted decrease a step must achieve.
        max_tries: tries (damping increases) per iteration.
        callback: called after every iteration (:func:`genprior.solvers.loop.iterate`).

    Returns:
        The final ``{"z": ...}`` and the loop's record (history of ``objective``, ``damping``, ``ratio``).
    """
    check_stopping(max_iter, tol, window, max_tries)
    if not damping > 0 or not 0 < c1 < 1:
        raise InputError(f"gauss-newton needs damping > 0 and 0 < c1 < 1, got {damping}, {c1}")
    z = z0.detach().clone()
    B, d = z.shape
    device = z.device
    all_idx = torch.arange(B, device=device)
    with torch.no_grad(), ieee_float32():
        f = value(z, all_idx).to(torch.float64)
    mu = torch.full((B,), float("nan"), dtype=torch.float64, device=device)  # set at each image's first iteration
    nu = torch.full((B,), 2.0, dtype=torch.float64, device=device)
    eye = torch.eye(d, dtype=torch.float64, device=device)
    initial = {"objective": f.clone(), "damping": mu.clone(), "ratio": mu.clone()}

    def step(idx: Tensor, history: History) -> Report:
        b = idx.numel()
        z_i = z[idx]
        with torch.no_grad():
            grad, hess = model(z_i, idx)
            grad, hess = grad.to(torch.float64), hess.to(torch.float64)
            f0 = f[idx]  # from ``value`` (as every candidate's), not the model's pass: the test compares like with like
            mu_i, nu_i = mu[idx], nu[idx]
            fresh = torch.isnan(mu_i)
            scale = hess.diagonal(dim1=1, dim2=2).amax(1).clamp_min(torch.finfo(torch.float64).tiny)
            mu_i = torch.where(fresh, damping * scale, mu_i)
            z_new, f_new = z_i.clone(), f0.clone()
            ratio = torch.full((b,), float("nan"), dtype=torch.float64, device=device)
            accepted = torch.zeros(b, dtype=torch.bool, device=device)
            still = torch.zeros_like(accepted)
            todo = torch.arange(b, device=device)
            for _ in range(max_tries):
                dz = torch.linalg.solve(hess[todo] + mu_i[todo, None, None] * eye, -grad[todo].unsqueeze(2)).squeeze(2)
                pred = -(grad[todo] * dz).sum(1) - 0.5 * torch.einsum("bi,bij,bj->b", dz, hess[todo], dz)
                cand = z_i[todo] + dz.to(z.dtype)
                f_c = value(cand, idx[todo]).to(torch.float64)
                rho = (f0[todo] - f_c) / pred
                same = (cand == z_i[todo]).all(1)
                ok = (torch.isfinite(f_c) & (pred > 0) & (rho >= c1)) | same
                good = todo[ok]
                z_new[good], f_new[good], accepted[good], still[good] = cand[ok], f_c[ok], True, same[ok]
                ratio[good] = torch.where(same[ok], torch.full_like(rho[ok], float("nan")), rho[ok])
                r_ok = rho[ok].clamp(max=1.0)
                mu_i[good] = torch.where(same[ok], mu_i[good],
                                         mu_i[good] * torch.clamp(1.0 - (2.0 * r_ok - 1.0) ** 3, min=1.0 / 3.0))
                nu_i[good] = 2.0
                bad = todo[~ok]
                mu_i[bad] *= nu_i[bad]
                nu_i[bad] *= 2.0
                todo = bad
                if todo.numel() == 0:
                    break
            z[idx], f[idx], mu[idx], nu[idx] = z_new, f_new, mu_i, nu_i
            flat = objective_flat(history, f_new, idx, tol, window)
        return Report({"objective": f_new, "damping": mu_i.clone(), "ratio": ratio},
                      converged=(flat | still) & accepted, stalled=~accepted)

    record = iterate(step, initial, max_iter, callback)
    return SolveState(variables={"z": z}, record=record)


__all__ = ["Model", "Value", "forward_jacobian", "gauss_newton"]
