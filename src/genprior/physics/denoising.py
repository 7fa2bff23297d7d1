"""Denoising: the identity operator ``A x = x``, ``A^T y = y``, norm 1.

Its SVD is ``U = V = I`` with every singular value ``scale`` (1), and its proximal step is
elementwise: ``prox_l2(z, y, gamma) = (z + gamma s y) / (1 + gamma s^2)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from genprior.physics.linear_solve import CG_MAX_ITER, CG_TOL, batch_gamma, check_prox_inputs
from genprior.physics.operator import LinearOperator
from genprior.physics.svd import DiagonalSVD


class Identity(LinearOperator):
    """``[B, *in_shape] -> [B, *in_shape]``, ``A = A^T = I`` (the denoising problem).

    Args:
        image_size: side ``n`` of a square ``[1, n, n]`` image (or give ``in_shape``).
        in_shape: shape of one image, overriding ``image_size``.
    """

    closed_form_prox = True

    def __init__(self, image_size: int = 28, *, in_shape: Sequence[int] | None = None) -> None:
        in_shape = tuple(in_shape) if in_shape is not None else (1, int(image_size), int(image_size))
        super().__init__(in_shape, in_shape)
        # the SVD's singular values (all 1 before scaling): a buffer, so .to() and .double() carry it
        self.register_buffer("ones", torch.ones(1, *in_shape), persistent=False)

    def _forward(self, x: Tensor) -> Tensor:
        return x

    def _adjoint(self, y: Tensor) -> Tensor:
        return y

    def svd(self) -> DiagonalSVD:
        """``U = V = I``, ``mask = scale`` everywhere (on the operator's device and dtype)."""
        return DiagonalSVD(self.in_shape, self.out_shape, self.name, self.scale * self.ones, self._forward,
                           self._adjoint)

    def prox_l2(self, z: Tensor, y: Tensor, gamma: float | Tensor, *, tol: float = CG_TOL,
                max_iter: int = CG_MAX_ITER, x0: Tensor | None = None) -> Tensor:
        """``(z + gamma s y) / (1 + gamma s^2)``, in any dtype and on any device, as ``A`` is
        (``tol``, ``max_iter`` and ``x0`` are not needed)."""
        check_prox_inputs(self, z, y)
        g, s = batch_gamma(gamma, z.shape[0], z), self.scale
        return (z + g * s * y) / (1.0 + g * s * s)
