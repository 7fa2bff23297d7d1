"""The linear forward operator contract shared by every inverse problem.

A :class:`LinearOperator` is a ``torch.nn.Module`` with the DeepInverse ``LinearPhysics``
method names: ``A(x)`` maps images ``[B, *in_shape]`` to measurements
``[B, *out_shape]`` and ``A_adjoint(y)`` is its exact adjoint, so that
``<A x, y> = <x, A^T y>``.  Subclasses implement the unscaled pair ``_forward`` /
``_adjoint``; the base multiplies both by ``scale``, which :meth:`normalise` sets to
``1 / ||A||`` (power iteration), as the paper does before it adds noise.

Gradients through ``A`` use ``A_adjoint`` (a custom autograd function), so the
backward pass of a sparse or FFT-based operator costs one adjoint application.
Tensors an operator needs live in buffers, so ``.to(device)`` and ``.double()`` work.

Optional parts of the contract, for denoiser and diffusion methods: ``prox_l2(z, y, gamma)``
(DeepInverse's semantics: ``argmin_x (gamma/2) ||A x - y||^2 + (1/2) ||x - z||^2``) is
batched conjugate gradient by default (:mod:`genprior.physics.linear_solve`), overridden
in closed form where one exists (``closed_form_prox``); ``svd()`` returns an exact
decomposition (:mod:`genprior.physics.svd`) or declines with an ``InputError``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from genprior.errors import InputError
from genprior.physics.linear_solve import CG_MAX_ITER, CG_TOL, prox_l2_cg
from genprior.validation import check_batch_shape

if TYPE_CHECKING:
    from genprior.physics.svd import SVD


@runtime_checkable
class LinearPhysics(Protocol):
    """What every function taking ``physics`` needs: DeepInverse's ``LinearPhysics`` names.

    ``A(x)`` maps images ``[B, *in_shape]`` to measurements and ``A_adjoint(y)`` is its
    exact adjoint.  genprior's operators also carry ``in_shape``, ``out_shape``, a dtype
    and a device (their buffers); a DeepInverse physics object satisfies the protocol
    without them (shapes are then found by applying ``A_adjoint``).
    """

    def A(self, x: Tensor) -> Tensor: ...

    def A_adjoint(self, y: Tensor) -> Tensor: ...


@torch.no_grad()
def power_norm(normal: Callable[[Tensor], Tensor], start: Tensor, n_iter: int = 200, tol: float = 1e-7) -> float:
    """``||A||`` by power iteration on ``A^T A``: ``x <- A^T A x / ||A^T A x||`` from ``start``.

    ``||A^T A x||^(1/2)`` converges to the largest singular value of ``A``.  Stops when the
    estimate changes by at most ``tol`` (relative) or after ``n_iter`` iterations; returns 0
    for the zero operator.  The one power iteration of the package (operators, PDHG steps).

    Args:
        normal: ``x -> A^T (A x)``.
        start: the starting vector ``[1, ...]`` (a seeded random draw).
    """
    x = start / start.norm()
    estimate = 0.0
    for _ in range(n_iter):
        w = normal(x)
        size = float(w.norm())
        if size == 0.0:
            return 0.0
        new = size ** 0.5
        x = w / size
        if abs(new - estimate) <= tol * new:
            return new
        estimate = new
    return estimate


def seeded_start(shape: Sequence[int], dtype: torch.dtype, device: torch.device | str, seed: int = 0) -> Tensor:
    """A standard normal draw of ``shape`` from ``seed`` (the start of :func:`power_norm`)."""
    return torch.randn(tuple(shape), generator=torch.Generator().manual_seed(seed), dtype=dtype).to(device)


class Stack:
    """``K = [K_1; ...; K_m]``: ``K x = (K_1 x, ..., K_m x)``, ``K^T (p_1, ..., p_m) = sum_i K_i^T p_i``.

    The operator of a splitting with several dual variables (PDHG's ``[A; D]`` for TV).
    """

    def __init__(self, *operators: LinearPhysics) -> None:
        if not operators:
            raise InputError("a stack needs at least one operator")
        self.operators = operators

    def A(self, x: Tensor) -> tuple[Tensor, ...]:
        return tuple(op.A(x) for op in self.operators)

    def A_adjoint(self, p: Sequence[Tensor]) -> Tensor:
        if len(p) != len(self.operators):
            raise InputError(f"a stack of {len(self.operators)} operators needs as many parts, got {len(p)}")
        return sum(op.A_adjoint(pi) for op, pi in zip(self.operators, p))

    def norm(self, like: Tensor, n_iter: int = 200, tol: float = 1e-7, seed: int = 0) -> float:
        """``||K||`` by :func:`power_norm` on images shaped like ``like[:1]``."""
        start = seeded_start(like[:1].shape, like.dtype, like.device, seed)
        return power_norm(lambda x: self.A_adjoint(self.A(x)), start, n_iter, tol)


class _ApplyForward(torch.autograd.Function):
    @staticmethod
    def forward(ctx, op: "LinearOperator", x: Tensor) -> Tensor:  # type: ignore[override]
        ctx.op = op
        return op._forward(x) * op.scale

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        op = ctx.op
        return None, op._adjoint(grad) * op.scale


class _ApplyAdjoint(torch.autograd.Function):
    @staticmethod
    def forward(ctx, op: "LinearOperator", y: Tensor) -> Tensor:  # type: ignore[override]
        ctx.op = op
        return op._adjoint(y) * op.scale

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        op = ctx.op
        return None, op._forward(grad) * op.scale


class LinearOperator(nn.Module):
    """Batched linear map ``A: R^{in_shape} -> R^{out_shape}`` with an exact adjoint.

    Args:
        in_shape: shape of one image, e.g. ``(1, 56, 56)``.
        out_shape: shape of one measurement, e.g. ``(1, 125, 81)``.

    Attributes:
        closed_form_prox: ``True`` where :meth:`prox_l2` is a closed form (no iterations).
    """

    closed_form_prox: ClassVar[bool] = False

    def __init__(self, in_shape: Sequence[int], out_shape: Sequence[int]) -> None:
        super().__init__()
        self.in_shape = tuple(int(s) for s in in_shape)
        self.out_shape = tuple(int(s) for s in out_shape)
        self.scale = 1.0

    # -- subclasses implement these two, for the unscaled operator -----------------
    def _forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _adjoint(self, y: Tensor) -> Tensor:
        raise NotImplementedError

    # -- public API ------------------------------------------------------------------
    @property
    def name(self) -> str:
        return type(self).__name__

    def A(self, x: Tensor) -> Tensor:
        """Apply the operator: ``[B, *in_shape] -> [B, *out_shape]``."""
        check_batch_shape(x, self.in_shape, f"{self.name} input")
        return _ApplyForward.apply(self, x)

    def A_adjoint(self, y: Tensor) -> Tensor:
        """Apply the adjoint: ``[B, *out_shape] -> [B, *in_shape]``."""
        check_batch_shape(y, self.out_shape, f"{self.name} adjoint input")
        return _ApplyAdjoint.apply(self, y)

    def forward(self, x: Tensor) -> Tensor:
        return self.A(x)

    def norm(self, n_iter: int = 200, tol: float = 1e-7, seed: int = 0) -> float:
        """Estimate ``||A||`` (largest singular value) by :func:`power_norm` on ``A^T A``."""
        start = seeded_start((1, *self.in_shape), self._dtype(), self._device(), seed)
        return power_norm(lambda x: self.A_adjoint(self.A(x)), start, n_iter, tol)

    def normalise(self, **norm_kwargs) -> "LinearOperator":
        """Rescale in place so that ``||A|| = 1``; returns ``self``."""
        current = self.norm(**norm_kwargs)
        if current == 0.0:
            raise InputError(f"{self.name} is the zero operator and cannot be normalised")
        self.scale = self.scale / current
        return self

    def prox_l2(
        self,
        z: Tensor,
        y: Tensor,
        gamma: float | Tensor,
        *,
        tol: float = CG_TOL,
        max_iter: int = CG_MAX_ITER,
        x0: Tensor | None = None,
    ) -> Tensor:
        """``argmin_x (gamma/2) ||A x - y||^2 + (1/2) ||x - z||^2`` (DeepInverse's ``prox_l2``).

        The solution of ``(I + gamma A^T A) x = z + gamma A^T y``.  This default runs
        batched conjugate gradient (:func:`~genprior.physics.linear_solve.prox_l2_cg`,
        without autograd); operators with a closed form override it and ignore ``tol``,
        ``max_iter`` and ``x0``.

        Args:
            z: images ``[B, *in_shape]``.
            y: measurements ``[B, *out_shape]``.
            gamma: one step for the batch, or a ``[B]`` tensor (finite, >= 0).
            tol: relative residual at which each image's CG stops.
            max_iter: most CG iterations per image.
            x0: CG starting point (default ``z``).
        """
        return prox_l2_cg(self, z, y, gamma, tol=tol, max_iter=max_iter, x0=x0).x

    def svd(self) -> SVD:
        """The exact decomposition ``A = U diag(mask) V^T`` (:class:`~genprior.physics.svd.SVD`).

        Raises:
            InputError: this operator has none (the default), naming those that have one.
        """
        from genprior.physics.svd import operators_with_svd

        raise InputError(f"{self.name} has none (operators with one: {', '.join(operators_with_svd())})")

    def extra_repr(self) -> str:
        return f"in_shape={self.in_shape}, out_shape={self.out_shape}, scale={self.scale:.6g}"

    def _dtype(self) -> torch.dtype:
        for t in self.buffers():
            if torch.is_floating_point(t):
                return t.dtype
        return torch.get_default_dtype()

    def _device(self) -> torch.device:
        for t in self.buffers():
            return t.device
        return torch.device("cpu")


@torch.no_grad()
def adjointness_error(physics, x: Tensor, y: Tensor) -> float:
    """Relative dot-product test ``|<Ax, y> - <x, A^T y>| / max(|<Ax, y>|, tiny)``."""
    lhs = float((physics.A(x) * y).sum())
    rhs = float((x * physics.A_adjoint(y)).sum())
    return abs(lhs - rhs) / max(abs(lhs), 1e-30)


def check_physics(physics) -> None:
    """Raise ``TypeError`` unless ``physics`` has callable ``A`` and ``A_adjoint``.

    Any object with these DeepInverse ``LinearPhysics`` methods is accepted wherever
    a genprior operator is, so ``deepinv.physics`` objects work without importing deepinv.
    """
    for attr in ("A", "A_adjoint"):
        if not callable(getattr(physics, attr, None)):
            raise TypeError(
                f"{type(physics).__name__} is not a linear operator: it has no callable "
                f"{attr!r} (expected the DeepInverse LinearPhysics methods A and A_adjoint)"
            )
