"""Compressed sensing: a dense Gaussian measurement matrix.

    A x = M vec(x),   M in R^{m x n},   M_ij ~ N(0, 1 / m) i.i.d.,   A^T y = M^T y,

with ``n`` the number of pixels; images ``[B, 1, H, W]`` map to measurements
``[B, m]``.  The paper's MNIST experiment uses ``m = 150`` (``n = 784``).  ``M`` is drawn
in float64 from a seeded ``torch.Generator`` (identical on every machine), stored in a
buffer (float32 by default) and the operator is rescaled by ``1 / ||M||_2``, the exact
largest singular value (computed once, in float64).

The exact SVD of the scaled matrix (:class:`~genprior.physics.svd.DenseSVD`, float64) is
computed on first use and kept until the matrix, its scale, dtype or device change; the
proximal step is its closed form, ``x = z + V_k [(gamma s U_k^T y - gamma s^2 V_k^T z) /
(1 + gamma s^2)]`` (the Woodbury identity on the thin factors), at ``O(m n)`` per image.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from genprior.errors import InputError
from genprior.physics._checks import check_same_dtype
from genprior.physics.linear_solve import CG_MAX_ITER, CG_TOL
from genprior.physics.operator import LinearOperator
from genprior.physics.svd import DenseSVD


def gaussian_matrix(m: int, n: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> Tensor:
    """An ``m x n`` matrix of i.i.d. ``N(0, 1/m)`` entries from ``seed`` (drawn in float64)."""
    gen = torch.Generator().manual_seed(int(seed))
    return (torch.randn(m, n, generator=gen, dtype=torch.float64) / m ** 0.5).to(dtype)


class CompressedSensing(LinearOperator):
    """Gaussian compressed sensing ``[B, *in_shape] -> [B, m]``.

    Args:
        image_size: side ``n`` of a square ``[1, n, n]`` image (or give ``in_shape``).
        measurements: number of measurements ``m`` (rows of the matrix), at least 1.
        seed: seed of the matrix.
        normalise: divide by ``||M||_2`` so the operator has norm 1.
        in_shape: shape of one image, overriding ``image_size``.
        dtype: dtype of the stored matrix (``op.double()`` converts later too).
    """

    closed_form_prox = True

    def __init__(
        self,
        image_size: int = 28,
        measurements: int = 150,
        seed: int = 0,
        normalise: bool = True,
        *,
        in_shape: Sequence[int] | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        in_shape = tuple(in_shape) if in_shape is not None else (1, int(image_size), int(image_size))
        if isinstance(measurements, bool) or not isinstance(measurements, int) or measurements < 1:
            raise InputError(f"measurements must be an integer >= 1, got {measurements!r}")
        n = 1
        for s in in_shape:
            n *= int(s)
        super().__init__(in_shape, (measurements,))
        self.seed = int(seed)
        self.register_buffer("matrix", gaussian_matrix(measurements, n, seed, dtype))
        self._svd: tuple[tuple, DenseSVD] | None = None  # (what it was computed from, the SVD)
        if normalise:
            self.scale = 1.0 / float(torch.linalg.matrix_norm(self.matrix.double(), ord=2))

    @property
    def measurements(self) -> int:
        return self.out_shape[0]

    def _forward(self, x: Tensor) -> Tensor:
        check_same_dtype(self.name, self.matrix.dtype, x)
        return x.reshape(x.shape[0], -1) @ self.matrix.T  # [B, n] -> [B, m]

    def _adjoint(self, y: Tensor) -> Tensor:
        check_same_dtype(self.name, self.matrix.dtype, y)
        return (y @ self.matrix).reshape(y.shape[0], *self.in_shape)  # [B, m] -> [B, 1, H, W]

    def svd(self) -> DenseSVD:
        """The SVD of ``scale * matrix`` in float64, cached; ``mask`` in the matrix's dtype."""
        m = self.matrix
        key = (m.device, m.dtype, m.data_ptr(), m._version, self.scale)
        if self._svd is None or self._svd[0] != key:
            self._svd = key, DenseSVD(m.double() * self.scale, self.in_shape, self.out_shape, self.name, m.dtype)
        return self._svd[1]

    def prox_l2(self, z: Tensor, y: Tensor, gamma: float | Tensor, *, tol: float = CG_TOL,
                max_iter: int = CG_MAX_ITER, x0: Tensor | None = None) -> Tensor:
        """Closed form through the cached SVD (``tol``, ``max_iter`` and ``x0`` are not needed)."""
        return self.svd().prox_l2(z, y, gamma)

    def extra_repr(self) -> str:
        return f"measurements={self.measurements}, seed={self.seed}, {super().extra_repr()}"
