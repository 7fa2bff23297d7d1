"""Image-quality metrics, batched over ``[B, 1, H, W]`` tensors, one value per image.

All use data range 1 (images in [0, 1]).  The authors' code used a data range of 2,
which adds ``20 log10(2) = 6.02`` dB to every PSNR: see :func:`psnr_paper_convention`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from genprior.errors import InputError

DATA_RANGE = 1.0
SSIM_WINDOW = 7  # side of ssim's default (uniform) window: images must be at least this large
PAPER_PSNR_OFFSET_DB = 20.0 * math.log10(2.0)


def _flat(t: Tensor) -> Tensor:
    return t.reshape(t.shape[0], -1).to(torch.float64)


def _check(x: Tensor, truth: Tensor) -> None:
    if x.shape != truth.shape:
        raise InputError(f"metric inputs differ in shape: {list(x.shape)} vs {list(truth.shape)}")


def mse(x: Tensor, truth: Tensor) -> Tensor:
    """Mean squared error per image."""
    _check(x, truth)
    return (_flat(x) - _flat(truth)).pow(2).mean(1)


def psnr(x: Tensor, truth: Tensor, data_range: float = DATA_RANGE) -> Tensor:
    """``10 log10(data_range^2 / MSE)`` per image, in dB (data range 1 by default).

    Args:
        x: reconstructions ``[B, ...]`` (usually ``[B, 1, H, W]``).
        truth: the true images, the same shape as ``x``.
        data_range: the images' range of values (1 for images in [0, 1]; the paper's
            tables use 2, which adds 6.02 dB: :func:`psnr_paper_convention`).

    Returns:
        ``[B]`` float64 PSNRs in dB (an exact match gives 200 dB, from an MSE floor of 1e-20).

    Raises:
        InputError: ``x`` and ``truth`` differ in shape.
    """
    return 10.0 * torch.log10(data_range**2 / mse(x, truth).clamp_min(1e-20))


def psnr_paper_convention(psnr_range1: Tensor | float) -> Tensor | float:
    """Convert a data-range-1 PSNR to the authors' data-range-2 convention (+6.02 dB)."""
    return psnr_range1 + PAPER_PSNR_OFFSET_DB


def nrmse(x: Tensor, truth: Tensor) -> Tensor:
    """``||x - truth|| / ||truth||`` per image (the paper's NRMSE).

    Args:
        x: reconstructions ``[B, ...]`` (usually ``[B, 1, H, W]``).
        truth: the true images, the same shape as ``x``.

    Returns:
        ``[B]`` float64 relative errors (dimensionless; 0 is exact).

    Raises:
        InputError: ``x`` and ``truth`` differ in shape.
    """
    _check(x, truth)
    return (_flat(x) - _flat(truth)).norm(dim=1) / _flat(truth).norm(dim=1).clamp_min(1e-20)


def _gaussian_window(size: int, sigma: float, dtype: torch.dtype, device) -> Tensor:
    ax = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(ax**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def check_scorable(shape: tuple[int, ...] | torch.Size, what: str = "images") -> None:
    """Raise :class:`~genprior.errors.InputError` unless images of ``shape`` (``[..., H, W]``) are at
    least :data:`SSIM_WINDOW` pixels on each side, so that every metric here can score them:
    checked before a reconstruction starts, not after it."""
    h, w = (int(s) for s in tuple(shape)[-2:])
    if min(h, w) < SSIM_WINDOW:
        raise InputError(f"{what} of {h} x {w} pixels are smaller than the {SSIM_WINDOW} x {SSIM_WINDOW} window of "
                         f"SSIM, which scores every reconstruction; use images of at least {SSIM_WINDOW} x "
                         f"{SSIM_WINDOW} pixels")


def ssim(x: Tensor, truth: Tensor, data_range: float = DATA_RANGE, win_size: int = SSIM_WINDOW,
         gaussian: bool = False, sigma: float = 1.5) -> Tensor:
    """Structural similarity per image (Wang et al. 2004), mean over valid windows.

    Defaults match ``skimage.metrics.structural_similarity``: a 7x7 uniform window,
    ``K1 = 0.01``, ``K2 = 0.03``, sample covariances (``N / (N - 1)``), no padding.
    ``gaussian=True`` uses an 11x11 Gaussian window of width ``sigma`` instead.

    Args:
        x: reconstructions ``[B, C, H, W]``.
        truth: the true images, the same shape as ``x``.
        data_range: the images' range of values (1 for images in [0, 1]).
        win_size: side of the uniform window in pixels (ignored with ``gaussian=True``).
        gaussian: use an 11x11 Gaussian window instead of the uniform one.
        sigma: the Gaussian window's standard deviation in pixels.

    Returns:
        ``[B]`` float64 SSIM values (1 is exact).

    Raises:
        InputError: ``x`` and ``truth`` differ in shape, are not 4-d, or are smaller than the window.
    """
    _check(x, truth)
    if x.dim() != 4:
        raise InputError(f"ssim expects [B, C, H, W] images, got {list(x.shape)}")
    X, Y = x.to(torch.float64), truth.to(torch.float64)
    C = X.shape[1]
    if gaussian:
        win_size = 11
        w = _gaussian_window(win_size, sigma, X.dtype, X.device)
        cov_norm = 1.0
    else:
        w = torch.full((1, 1, win_size, win_size), 1.0 / win_size**2, dtype=X.dtype, device=X.device)
        n = win_size**2
        cov_norm = n / (n - 1)
    if min(X.shape[-2:]) < win_size:
        raise InputError(f"images of size {list(X.shape[-2:])} are smaller than the SSIM window {win_size}")
    w = w.expand(C, 1, win_size, win_size)
    filt = lambda t: F.conv2d(t, w, groups=C)  # noqa: E731
    ux, uy = filt(X), filt(Y)
    vx = cov_norm * (filt(X * X) - ux * ux)
    vy = cov_norm * (filt(Y * Y) - uy * uy)
    vxy = cov_norm * (filt(X * Y) - ux * uy)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return s.reshape(s.shape[0], -1).mean(1)


def summary(values: Tensor) -> dict[str, float]:
    """``{"mean", "std", "median", "min", "max"}`` of a 1-D tensor (population std)."""
    v = values.detach().to(torch.float64).cpu()
    return {
        "mean": float(v.mean()),
        "std": float(v.std(unbiased=False)) if v.numel() > 1 else 0.0,
        "median": float(v.median()),
        "min": float(v.min()),
        "max": float(v.max()),
    }
