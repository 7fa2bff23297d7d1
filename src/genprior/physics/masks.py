"""Inpainting: observe a random subset of the pixels.

    A x = x[Omega],   A^T y = the image with y at the pixels Omega and 0 elsewhere,

for a set ``Omega`` of ``round(keep * n)`` pixel indices (row-major over the whole
``(C, H, W)`` image) drawn without replacement from a seeded ``torch.Generator``.  ``A``
maps ``[B, C, H, W]`` to the ``[B, |Omega|]`` observed values (so noise is added only
where something is measured and ``m = |Omega|``).  ``A A^T = I``, hence ``||A|| = 1``
and no rescaling is needed.  :meth:`Inpainting.embed` writes measurements back into an
image (what :meth:`A_adjoint` does) for display; :attr:`Inpainting.mask` is the 0/1 mask.

``A^T A`` is the diagonal mask, so the SVD is ``V = I``, ``U`` the selection and
singular values ``scale * mask``, and the proximal step is elementwise:
``prox_l2(z, y, gamma) = (z + gamma A^T y) / (1 + gamma s^2 mask)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from genprior.errors import InputError
from genprior.physics._checks import check_same_dtype
from genprior.physics.linear_solve import CG_MAX_ITER, CG_TOL
from genprior.physics.operator import LinearOperator
from genprior.physics.svd import DiagonalSVD


def random_pixels(n_pixels: int, keep: float, seed: int = 0) -> Tensor:
    """Sorted indices of ``round(keep * n_pixels)`` (at least 1) pixels drawn from ``seed``."""
    if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0.0 < keep <= 1.0:
        raise InputError(f"keep (the fraction of pixels observed) must be in (0, 1], got {keep!r}")
    count = max(1, round(keep * n_pixels))
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randperm(n_pixels, generator=gen)[:count].sort().values


class Inpainting(LinearOperator):
    """Random pixel mask ``[B, *in_shape] -> [B, n_kept]`` (closed-form prox, exact SVD).

    Args:
        image_size: side ``n`` of a square ``[1, n, n]`` image (or give ``in_shape``).
        keep: fraction of pixels observed, in ``(0, 1]`` (the authors: 0.25).
        seed: seed of the pixel subset.
        in_shape: shape of one image, overriding ``image_size``.
        mask: an explicit boolean mask of shape ``in_shape`` (overrides ``keep``/``seed``).
        dtype: dtype of the stored 0/1 mask (``op.double()`` converts later too).
    """

    closed_form_prox = True

    def __init__(
        self,
        image_size: int = 28,
        keep: float = 0.25,
        seed: int = 0,
        *,
        in_shape: Sequence[int] | None = None,
        mask: Tensor | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        in_shape = tuple(in_shape) if in_shape is not None else (1, int(image_size), int(image_size))
        n = 1
        for s in in_shape:
            n *= int(s)
        if mask is not None:
            mask = torch.as_tensor(mask)
            if tuple(mask.shape) != in_shape:
                raise InputError(f"mask must have shape {list(in_shape)}, got {list(mask.shape)}")
            index = mask.reshape(-1).nonzero().reshape(-1)
            if index.numel() == 0:
                raise InputError("the mask keeps no pixel")
            self.keep, self.seed = index.numel() / n, None
        else:
            index = random_pixels(n, keep, seed)
            self.keep, self.seed = float(keep), int(seed)
        super().__init__(in_shape, (index.numel(),))
        self.register_buffer("index", index)
        full = torch.zeros(n, dtype=dtype)
        full[index] = 1.0
        self.register_buffer("mask", full.reshape(in_shape))

    def _forward(self, x: Tensor) -> Tensor:
        check_same_dtype(self.name, self.mask.dtype, x)
        return x.reshape(x.shape[0], -1).index_select(1, self.index)  # [B, n] -> [B, n_kept]

    def _adjoint(self, y: Tensor) -> Tensor:
        check_same_dtype(self.name, self.mask.dtype, y)
        out = y.new_zeros(y.shape[0], self.mask.numel())  # indices are distinct: adding is copying
        return out.index_add_(1, self.index, y).reshape(y.shape[0], *self.in_shape)

    def svd(self) -> DiagonalSVD:
        """``V = I``, ``U`` the pixel selection, ``mask = scale * mask`` (the 0/1 mask's dtype)."""
        return DiagonalSVD(self.in_shape, self.out_shape, self.name, self.scale * self.mask[None],
                           self._forward, self._adjoint)

    def prox_l2(self, z: Tensor, y: Tensor, gamma: float | Tensor, *, tol: float = CG_TOL,
                max_iter: int = CG_MAX_ITER, x0: Tensor | None = None) -> Tensor:
        """Elementwise closed form (``tol``, ``max_iter`` and ``x0`` are not needed)."""
        return self.svd().prox_l2(z, y, gamma)

    def embed(self, y: Tensor) -> Tensor:
        """Measurements ``[B, n_kept]`` as images with zeros at unobserved pixels (unscaled)."""
        return self._adjoint(y)

    def extra_repr(self) -> str:
        return f"keep={self.keep:.4g}, n_kept={self.out_shape[0]}, seed={self.seed}, {super().extra_repr()}"
