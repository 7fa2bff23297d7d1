"""Batched conjugate gradient, and the proximal step of ``||A x - y||^2`` by it.

The proximal operator of the data term, with DeepInverse's ``prox_l2`` semantics,

    prox(z) = argmin_x  (gamma / 2) ||A x - y||^2 + (1 / 2) ||x - z||^2,

is the solution of the normal equations ``(I + gamma A^T A) x = z + gamma A^T y``.
``I + gamma A^T A`` is symmetric with eigenvalues in ``[1, 1 + gamma ||A||^2]``, so
conjugate gradient converges in about ``sqrt(1 + gamma) log(1 / tol)`` products on a
normalised operator, and the error of an iterate is at most its residual
(``||x - x*|| <= ||r||``).  :func:`conjugate_gradient` solves one system per image of a
batch, each image stopping at its own tolerance; :func:`prox_l2_cg` is the proximal step
any ``A`` / ``A_adjoint`` pair gets from it (the default of
:meth:`genprior.physics.operator.LinearOperator.prox_l2`; operators with a closed form
override it), and :func:`prox_l2` asks any physics object for its step.

Defaults, by measurement (benchmarks/RESULTS.md, bench_prox: the paper's blur at 28x28
and tomography at 56x56, float32): ``CG_TOL = 1e-5`` (relative residual, as DeepInverse
measures it; float32 solves reach it, and the error against a dense float64 solve stays
below about 1e-3 of the image's norm up to ``gamma = 1000``, where ``tol = 1e-4`` leaves
up to 1e-2 and saves a quarter of the iterations) and ``CG_MAX_ITER = 200`` (a safety
cap: up to ``gamma = 1000`` the paper's blur needs about 120 iterations and tomography 80,
so the cap binds only beyond).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from genprior.batched import rows_like
from genprior.errors import InputError
from genprior.validation import check_batch_shape

CG_TOL = 1e-5
CG_MAX_ITER = 200


@dataclass(frozen=True)
class CGResult:
    """How a batched conjugate-gradient solve ended.

    Attributes:
        x: the solutions ``[B, ...]``.
        iterations: ``[B]`` (int64) products with the system matrix per image, not
            counting the one that forms the starting residual of a warm start.
        converged: ``[B]`` (bool) whether each image reached its tolerance.
    """

    x: Tensor
    iterations: Tensor
    converged: Tensor


def _dot(a: Tensor, b: Tensor) -> Tensor:
    return (a * b).reshape(a.shape[0], -1).sum(1)


@torch.no_grad()
def conjugate_gradient(
    apply: Callable[[Tensor, Tensor | None], Tensor],
    b: Tensor,
    *,
    x0: Tensor | None = None,
    tol: float = CG_TOL,
    max_iter: int = CG_MAX_ITER,
    compact: bool = True,
) -> CGResult:
    """Solve ``M_i x_i = b_i`` for every image ``i`` of a batch, ``M_i`` symmetric positive definite.

    Image ``i`` stops at the first iterate whose (recursively updated) residual satisfies
    ``||b_i - M_i x_i|| <= tol ||b_i||`` (``||b_i|| = 0`` counts as 1, as in DeepInverse),
    or after ``max_iter`` products; finished images are left as they are while the others
    go on.  Runs without autograd.

    Args:
        apply: ``(v, rows) -> M v`` for a batch ``v`` of images; ``rows`` holds the batch
            indices (into ``b``) of ``v``'s images, or is ``None`` when ``v`` is the whole
            batch, so per-image parameters can follow (``lambda v, rows: ...``).
        b: right-hand sides ``[B, ...]``.
        x0: starting point (warm start), shaped like ``b``; default zero.
        tol: relative residual at which an image stops (0: run ``max_iter`` products).
        max_iter: most products with ``M`` per image.
        compact: apply ``M`` to the unfinished images only (valid when ``M`` acts on each
            image alone, as for every :class:`~genprior.physics.operator.LinearOperator`);
            ``False`` applies it to the whole batch each time (a physics whose ``A``
            depends on the batch, e.g. one holding a mask per image).

    Raises:
        InputError: ``tol`` is not a finite number >= 0, ``max_iter`` not an integer >= 0,
            or ``x0`` not shaped like ``b``.
    """
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0.0 <= tol < float("inf"):
        raise InputError(f"tol (the relative residual at which CG stops) must be a finite number >= 0, got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 0:
        raise InputError(f"max_iter (the cap on CG iterations) must be an integer >= 0, got {max_iter!r}")
    n = b.shape[0]
    if x0 is None:
        x, r = torch.zeros_like(b), b.clone()
    else:
        if x0.shape != b.shape:
            raise InputError(f"the CG starting point must have shape {list(b.shape)}, got {list(x0.shape)}")
        x = x0.to(b.dtype).clone()
        r = b - apply(x, None)
    size = _dot(b, b)
    threshold = float(tol) ** 2 * torch.where(size > 0, size, torch.ones_like(size))
    rs = _dot(r, r)
    iterations = torch.zeros(n, dtype=torch.int64, device=b.device)
    # The unfinished images, gathered: rows (their indices) and their x, r, p, |r|^2, threshold.
    rows = (rs > threshold).nonzero().reshape(-1)
    xa, ra, rsa, cut = x[rows], r[rows], rs[rows], threshold[rows]
    pa = ra.clone()
    for step in range(1, max_iter + 1):
        if rows.numel() == 0:
            break
        every = rows.numel() == n  # rows is then 0..n-1, in order
        if compact or every:
            mp = apply(pa, None if every else rows)
        else:
            mp = apply(torch.zeros_like(b).index_copy_(0, rows, pa), None)[rows]
        curvature = _dot(pa, mp)
        fine = curvature > 0  # false only on a breakdown (M not positive definite): that image stops
        alpha = torch.where(fine, rsa / torch.where(fine, curvature, torch.ones_like(curvature)), 0.0)
        xa.add_(rows_like(alpha, pa) * pa)
        ra.sub_(rows_like(alpha, pa) * mp)
        rs_new = _dot(ra, ra)
        pa.mul_(rows_like(rs_new / rsa, pa)).add_(ra)
        rsa = rs_new
        going = fine & (rsa > cut)
        if not bool(going.all()):  # write the finished images back, keep the others
            done = rows[~going]
            x[done], rs[done], iterations[done] = xa[~going], rsa[~going], step
            rows, xa, ra, pa, rsa, cut = rows[going], xa[going], ra[going], pa[going], rsa[going], cut[going]
    x[rows], rs[rows], iterations[rows] = xa, rsa, max_iter
    return CGResult(x, iterations, rs <= threshold)


def batch_gamma(gamma: float | Tensor, batch: int, like: Tensor) -> Tensor:
    """``gamma`` as a ``[B, 1, ..., 1]`` tensor in ``like``'s dtype and device (broadcasts against images).

    Args:
        gamma: one number for the batch, or one per image (a ``[B]`` tensor); finite, >= 0.

    Raises:
        InputError: ``gamma`` is negative, not finite, or has neither one nor ``B`` values.
    """
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float, Tensor)):
        raise InputError(f"gamma (the proximal step) must be a number or a [B] tensor, got {type(gamma).__name__}")
    g = torch.as_tensor(gamma, dtype=like.dtype, device=like.device).detach()
    if g.dim() > 1 or g.numel() not in (1, batch):
        raise InputError(f"gamma must be one number or one per image ([{batch}]), got shape {list(g.shape)}")
    if not bool(torch.isfinite(g).all()) or bool((g < 0).any()):
        raise InputError(f"gamma (the proximal step) must be finite and >= 0, got {g.tolist()}")
    return g.reshape(-1).expand(batch).reshape(batch, *([1] * (like.dim() - 1)))


def check_prox_inputs(physics, z: Tensor, y: Tensor) -> None:
    """Raise :class:`InputError` unless ``z`` and ``y`` are batches of one size (and of the
    operator's shapes, where ``physics`` states them)."""
    name = type(physics).__name__
    if hasattr(physics, "in_shape") and hasattr(physics, "out_shape"):
        check_batch_shape(z, physics.in_shape, f"{name} prox_l2 point z")
        check_batch_shape(y, physics.out_shape, f"{name} prox_l2 measurements y")
    if z.shape[0] != y.shape[0]:
        raise InputError(f"prox_l2 needs as many images as measurements, got {z.shape[0]} and {y.shape[0]}")


def prox_l2_cg(
    physics,
    z: Tensor,
    y: Tensor,
    gamma: float | Tensor,
    *,
    tol: float = CG_TOL,
    max_iter: int = CG_MAX_ITER,
    x0: Tensor | None = None,
    compact: bool = True,
) -> CGResult:
    """``argmin_x (gamma/2) ||A x - y||^2 + (1/2) ||x - z||^2`` by :func:`conjugate_gradient`.

    Solves ``(I + gamma_i A^T A) x_i = z_i + gamma_i A^T y_i`` with any object that has
    ``A`` and ``A_adjoint``; starts from ``x0`` (default ``z``, as DeepInverse does).

    Args:
        gamma: one step for the batch, or a ``[B]`` tensor of steps (finite, >= 0).
        tol, max_iter, compact: as in :func:`conjugate_gradient`.
    """
    check_prox_inputs(physics, z, y)
    g = batch_gamma(gamma, z.shape[0], z)
    with torch.no_grad():
        b = z + g * physics.A_adjoint(y)

    def system(v: Tensor, rows: Tensor | None) -> Tensor:
        gv = g if rows is None else g[rows]
        return v + gv * physics.A_adjoint(physics.A(v))

    return conjugate_gradient(system, b, x0=z if x0 is None else x0, tol=tol, max_iter=max_iter, compact=compact)


def prox_l2(physics, z: Tensor, y: Tensor, gamma: float | Tensor, **solver) -> Tensor:
    """The proximal step of ``(1/2) ||A x - y||^2`` with step ``gamma``, from any physics object.

    A genprior operator, or any object with a ``prox_l2(z, y, gamma, ...)`` method (a
    DeepInverse physics), gives its own; anything else with ``A`` and ``A_adjoint`` gets
    :func:`prox_l2_cg` applied to the whole batch each time (``compact=False``: a foreign
    ``A`` may depend on the batch).  ``solver`` (``tol``, ``max_iter``, ``x0``) goes to
    genprior's solvers; a foreign ``prox_l2`` is called with ``z, y, gamma`` only.
    """
    from genprior.physics.operator import LinearOperator

    if isinstance(physics, LinearOperator):
        return physics.prox_l2(z, y, gamma, **solver)
    own = getattr(physics, "prox_l2", None)
    if callable(own):
        return own(z, y, gamma)
    return prox_l2_cg(physics, z, y, gamma, compact=False, **solver).x
