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
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from genprior.validation import check_batch_shape


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
    """

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

    @torch.no_grad()
    def norm(self, n_iter: int = 200, tol: float = 1e-7, seed: int = 0) -> float:
        """Estimate ``||A||`` (largest singular value) by power iteration on ``A^T A``."""
        dtype = self._dtype()
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn((1, *self.in_shape), generator=gen, dtype=dtype).to(self._device())
        x /= x.norm()
        estimate = 0.0
        for _ in range(n_iter):
            w = self.A_adjoint(self.A(x))
            new = float(w.norm()) ** 0.5
            if new == 0.0:
                return 0.0
            x = w / w.norm()
            if abs(new - estimate) <= tol * new:
                estimate = new
                break
            estimate = new
        return estimate

    def normalise(self, **norm_kwargs) -> "LinearOperator":
        """Rescale in place so that ``||A|| = 1``; returns ``self``."""
        current = self.norm(**norm_kwargs)
        if current == 0.0:
            raise ValueError(f"{self.name} is the zero operator and cannot be normalised")
        self.scale = self.scale / current
        return self

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
