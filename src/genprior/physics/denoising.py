"""Denoising: the identity operator ``A x = x``, ``A^T y = y``, norm 1."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from genprior.physics.operator import LinearOperator


class Identity(LinearOperator):
    """``[B, *in_shape] -> [B, *in_shape]``, ``A = A^T = I`` (the denoising problem).

    Args:
        image_size: side ``n`` of a square ``[1, n, n]`` image (or give ``in_shape``).
        in_shape: shape of one image, overriding ``image_size``.
    """

    def __init__(self, image_size: int = 28, *, in_shape: Sequence[int] | None = None) -> None:
        in_shape = tuple(in_shape) if in_shape is not None else (1, int(image_size), int(image_size))
        super().__init__(in_shape, in_shape)

    def _forward(self, x: Tensor) -> Tensor:
        return x

    def _adjoint(self, y: Tensor) -> Tensor:
        return y
