"""Deconvolution: convolution with a blur kernel, zero boundary, same-size output.

    (A x)[i, j] = sum_{a, b} h[a, b] x[i - a + r, j - b + r],   r = (k - 1) / 2,

for a ``k x k`` kernel ``h`` (``k`` odd) and ``x`` zero outside the image, so
``A: [B, C, H, W] -> [B, C, H, W]``.  The adjoint is the correlation with ``h``, i.e.
the convolution with the flipped kernel: ``(A^T y)[i, j] = sum h[a, b] y[i + a - r,
j + b - r]``.  The paper's kernel is a 5 x 5 Gaussian of standard deviation 1 pixel,
normalised to sum 1 (:func:`gaussian_kernel`).

Both directions are one depthwise ``conv2d`` with the batch folded into the channels
(``[1, B*C, H, W]`` with ``B*C`` groups): on a 2-core CPU, batch of 100, it was 2x (28x28)
to 15x (128x128) faster than a plain single-channel ``conv2d`` and 1.4x to 2.5x faster
than zero-padded FFTs (benchmarks/RESULTS.md, bench_operators), and it is exact.
The operator is rescaled by ``1 / ||A||``, exact for separable kernels (:func:`blur_norm`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from genprior.errors import InputError
from genprior.physics._checks import check_same_dtype
from genprior.physics.operator import LinearOperator


def gaussian_kernel(size: int = 5, width: float = 1.0, dtype: torch.dtype = torch.float32) -> Tensor:
    """``size x size`` kernel ``exp(-(a^2 + b^2) / (2 width^2))`` on centred integer offsets, sum 1.

    Raises:
        ValueError: ``size`` is not a positive odd integer or ``width`` is not > 0.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1 or size % 2 == 0:
        raise InputError(f"kernel size must be a positive odd integer, got {size!r}")
    if not isinstance(width, (int, float)) or not width > 0 or width == float("inf"):
        raise InputError(f"kernel width (standard deviation) must be a finite number > 0, got {width!r}")
    t = (torch.arange(size, dtype=torch.float64) - (size - 1) / 2) / float(width)  # offsets in widths: no 0/0
    g = torch.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / 2.0)
    kernel = (g / g.sum()).to(dtype)
    if size > 1 and int((kernel != 0).sum()) == 1:  # every weight but the centre's underflowed
        smallest = math.sqrt(1.0 / (-2.0 * math.log(torch.finfo(dtype).smallest_normal)))
        raise InputError(f"kernel width `kernel_width={width:g}` makes the {size} x {size} Gaussian kernel a single "
                         f"pixel in {str(dtype).replace('torch.', '')} (no blur at all): use a width of at least "
                         f"{smallest:.2g} pixels, or the denoising problem for no blur")
    return kernel


def _convolution_matrix(u: Tensor, n: int) -> Tensor:
    """The ``n x n`` matrix ``T[i, i'] = u[i - i' + r]`` of 1D same-size convolution (zero boundary)."""
    r = (u.numel() - 1) // 2
    offset = torch.arange(n)[:, None] - torch.arange(n)[None, :] + r  # [n, n]
    inside = (offset >= 0) & (offset < u.numel())
    return torch.where(inside, u[offset.clamp(0, u.numel() - 1)], torch.zeros((), dtype=u.dtype))


def blur_norm(kernel: Tensor, height: int, width: int) -> float:
    """``||A||`` of the unscaled convolution with ``kernel`` on ``height x width`` images.

    A separable (rank-one) kernel ``h = s u v^T``, such as a Gaussian, makes ``A`` the
    Kronecker product ``s T_u (x) T_v`` of two 1D convolution matrices, so the norm is
    exactly ``s ||T_u|| ||T_v||`` (two small SVDs).  Any other kernel: power iteration
    in float64 (2000 iterations at most).  Power iteration alone converges slowly here,
    because the leading singular values of a blur are clustered.
    """
    h = kernel.detach().to("cpu", torch.float64)
    u, s, vt = torch.linalg.svd(h)
    if s.numel() == 1 or s[1] <= 1e-12 * s[0]:
        tu = _convolution_matrix(u[:, 0], height)
        tv = _convolution_matrix(vt[0], width)
        return float(s[0] * torch.linalg.matrix_norm(tu, ord=2) * torch.linalg.matrix_norm(tv, ord=2))
    unit = Blur(kernel=h, normalise=False, in_shape=(1, height, width))
    return unit.norm(n_iter=2000, tol=1e-12)


class Blur(LinearOperator):
    """Convolution with ``kernel`` (zero boundary): ``[B, *in_shape] -> [B, *in_shape]``.

    Args:
        image_size: side ``n`` of a square ``[1, n, n]`` image (or give ``in_shape``).
        kernel: a 2D ``k x k`` tensor with ``k`` odd (default: :func:`gaussian_kernel`
            of ``kernel_size`` and ``kernel_width``).
        kernel_size: side of the default Gaussian kernel (odd; paper: 5).
        kernel_width: standard deviation of the default Gaussian kernel (paper: 1).
        normalise: divide by ``||A||`` so the operator has norm 1.
        in_shape: ``(C, H, W)`` of one image, overriding ``image_size``.
    """

    def __init__(
        self,
        image_size: int = 28,
        kernel: Tensor | None = None,
        kernel_size: int = 5,
        kernel_width: float = 1.0,
        normalise: bool = True,
        *,
        in_shape: Sequence[int] | None = None,
    ) -> None:
        in_shape = tuple(in_shape) if in_shape is not None else (1, int(image_size), int(image_size))
        if len(in_shape) != 3:
            raise InputError(f"Blur images must have shape (C, H, W), got {in_shape}")
        super().__init__(in_shape, in_shape)
        exact = None  # the default Gaussian in float64: exactly separable, so its norm needs no power iteration
        if kernel is None:
            exact = gaussian_kernel(kernel_size, kernel_width, dtype=torch.float64)
            kernel = exact.to(torch.float32)
        kernel = torch.as_tensor(kernel)
        if kernel.dim() != 2 or kernel.shape[0] != kernel.shape[1] or kernel.shape[0] % 2 == 0:
            raise InputError(f"the blur kernel must be a square 2D tensor of odd size, got {list(kernel.shape)}")
        if not torch.is_floating_point(kernel) or not bool(torch.isfinite(kernel).all()):
            raise InputError("the blur kernel must hold finite floating-point values")
        self.register_buffer("kernel", kernel.clone())
        if normalise:
            self.scale = 1.0 / blur_norm(exact if exact is not None else kernel, in_shape[-2], in_shape[-1])

    def _conv(self, t: Tensor, weight: Tensor) -> Tensor:
        check_same_dtype(self.name, self.kernel.dtype, t)
        b, c, h, w = t.shape
        k = weight.shape[-1]
        out = F.conv2d(t.reshape(1, b * c, h, w), weight.expand(b * c, 1, k, k), padding=k // 2, groups=b * c)
        return out.reshape(b, c, h, w)

    def _forward(self, x: Tensor) -> Tensor:
        return self._conv(x, self.kernel.flip(0, 1))  # conv2d correlates: flip to convolve

    def _adjoint(self, y: Tensor) -> Tensor:
        return self._conv(y, self.kernel)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel.shape[-1]}, {super().extra_repr()}"
