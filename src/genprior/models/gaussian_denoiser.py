"""The exact denoiser of Gaussian data: a reference to test denoiser-based methods against.

For images ``x ~ N(m, C)`` (``P`` pixels) observed as ``x + sigma e``, ``e ~ N(0, I)``,
the minimum-mean-squared-error denoiser is linear,

    D(x, sigma) = m + C (C + sigma^2 I)^{-1} (x - m) = m + V diag(l / (l + sigma^2)) V^T (x - m),

with ``C = V diag(l) V^T`` (its eigendecomposition, computed once in float64).  The
posterior of a linear inverse problem ``y = A x + s e`` is Gaussian too
(:meth:`GaussianDenoiser.posterior`), so plug-and-play, RED and diffusion samplers run
with this denoiser can be checked against closed forms.  :meth:`GaussianDenoiser.fit`
estimates ``m`` and ``C`` from training images (small images only: ``C`` has ``P^2``
entries).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genprior.errors import InputError
from genprior.models.noise_level import check_images, noise_levels

MAX_PIXELS = 56 * 56  # C is P x P in float64 (79 MB at 56x56) and its eigendecomposition costs O(P^3)


def _check_size(pixels: int) -> None:
    if pixels > MAX_PIXELS:
        side = math.isqrt(MAX_PIXELS)
        raise InputError(f"a Gaussian denoiser keeps a {pixels} x {pixels} covariance; images of at most {MAX_PIXELS} "
                         f"pixels ({side}x{side}) are supported")


class GaussianDenoiser(nn.Module):
    """``D(x, sigma)`` for data ``N(mean, cov)``, exact (float64 inside, ``x``'s dtype out).

    Args:
        mean: ``m`` ``[1, n, n]`` (or ``[n, n]``).
        cov: ``C`` ``[P, P]``, symmetric positive semi-definite, ``P = n^2``.
        sigma_min, sigma_max: the noise levels it accepts (as a trained denoiser's range;
            ``sigma > 0`` always, as ``D`` is undefined at 0 where ``C`` is singular).
    """

    def __init__(self, mean: Tensor, cov: Tensor, sigma_min: float = 1e-6, sigma_max: float = 1e6) -> None:
        super().__init__()
        mean = torch.as_tensor(mean, dtype=torch.float64)
        n = mean.shape[-1]
        if mean.numel() != n * n or mean.shape[-2] != n:
            raise InputError(f"the mean must be one square image [1, n, n], got shape {list(mean.shape)}")
        pixels = n * n
        _check_size(pixels)
        cov = torch.as_tensor(cov, dtype=torch.float64)
        if cov.shape != (pixels, pixels):
            raise InputError(f"the covariance of {n}x{n} images must be [{pixels}, {pixels}], got {list(cov.shape)}")
        if not torch.isfinite(cov).all() or not torch.isfinite(mean).all():
            raise InputError("the mean and covariance must be finite")
        if not torch.allclose(cov, cov.T, rtol=1e-8, atol=1e-10 * float(cov.abs().max().clamp(min=1e-300))):
            raise InputError("the covariance must be symmetric")
        if not 0 < sigma_min < sigma_max:
            raise InputError(f"need 0 < sigma_min < sigma_max, got {sigma_min!r} and {sigma_max!r}")
        eigenvalues, eigenvectors = torch.linalg.eigh(cov)
        if eigenvalues.min() < -1e-8 * max(float(eigenvalues.max()), 1e-300):
            raise InputError(f"the covariance must be positive semi-definite (smallest eigenvalue "
                             f"{float(eigenvalues.min()):.3g})")
        self.image_shape = (1, n, n)
        self.sigma_min, self.sigma_max = float(sigma_min), float(sigma_max)
        self.register_buffer("mean", mean.reshape(pixels))
        self.register_buffer("cov", cov)
        self.register_buffer("eigenvalues", eigenvalues.clamp(min=0))
        self.register_buffer("eigenvectors", eigenvectors)

    @classmethod
    def fit(cls, images: Tensor, **ranges: float) -> GaussianDenoiser:
        """The denoiser of ``N(m, C)`` with the sample mean and covariance of ``images`` ``[N, 1, n, n]``
        (``C`` divides by ``N - 1``); ``ranges``: ``sigma_min`` / ``sigma_max``."""
        if not isinstance(images, Tensor) or images.ndim != 4 or images.shape[1] != 1 or \
                images.shape[2] != images.shape[3]:
            raise InputError(f"fit takes square images [N, 1, n, n], got {getattr(images, 'shape', type(images))}")
        _check_size(images.shape[2] * images.shape[3])
        if images.shape[0] < 2:
            raise InputError(f"fit needs at least 2 images to estimate a covariance, got {images.shape[0]}")
        flat = images.detach().to(torch.float64).flatten(1)  # [N, P]
        if not torch.isfinite(flat).all():
            raise InputError("the images must be finite")
        mean = flat.mean(0)
        centred = flat - mean
        cov = centred.T @ centred / (flat.shape[0] - 1)
        return cls(mean.reshape(images.shape[1:]), (cov + cov.T) / 2, **ranges)

    def gains(self, sigma: Tensor) -> Tensor:
        """``l / (l + sigma^2)`` per image and eigenvector ``[B, P]`` (``sigma`` ``[B]``, float64)."""
        return self.eigenvalues / (self.eigenvalues + sigma[:, None] ** 2)

    def forward(self, x: Tensor, sigma: float | Tensor) -> Tensor:
        """``D(x, sigma)`` ``[B, 1, n, n]`` (``sigma``: a number or ``B`` numbers), differentiable in ``x``."""
        check_images(x, self.image_shape, "the Gaussian denoiser")
        s = noise_levels(sigma, x.shape[0], self.mean, self.sigma_min, self.sigma_max, "the Gaussian denoiser")
        coords = (x.to(torch.float64).flatten(1) - self.mean) @ self.eigenvectors  # [B, P] in the eigenbasis
        out = self.mean + (self.gains(s) * coords) @ self.eigenvectors.T  # [B, P]
        return out.reshape(x.shape).to(x.dtype)

    def posterior(self, A: Tensor, y: Tensor, noise: float) -> tuple[Tensor, Tensor]:
        """Mean ``[B, 1, n, n]`` and covariance ``[P, P]`` of ``x | y`` for ``y = A x + noise e``.

        ``mean = m + C A^T (A C A^T + s^2 I)^{-1} (y - A m)`` and
        ``cov = C - C A^T (A C A^T + s^2 I)^{-1} A C`` (float64), with ``A`` a dense
        ``[M, P]`` matrix and ``y`` ``[B, M]`` (or ``[B, ...]`` with ``M`` values per image).
        """
        A = torch.as_tensor(A, dtype=torch.float64, device=self.cov.device)
        pixels = self.mean.numel()
        if A.ndim != 2 or A.shape[1] != pixels:
            raise InputError(f"A must be a dense [M, {pixels}] matrix, got shape {list(A.shape)}")
        if not noise > 0:
            raise InputError(f"the noise level must be > 0, got {noise!r}")
        y = y.to(torch.float64).reshape(y.shape[0], -1)
        if y.shape[1] != A.shape[0]:
            raise InputError(f"y has {y.shape[1]} values per image but A has {A.shape[0]} rows")
        CAt = self.cov @ A.T  # [P, M]
        system = A @ CAt + noise**2 * torch.eye(A.shape[0], dtype=torch.float64, device=A.device)  # [M, M]
        gain = torch.linalg.solve(system, CAt.T).T  # C A^T (A C A^T + s^2 I)^{-1}  [P, M]
        mean = self.mean + (y - self.mean @ A.T) @ gain.T  # [B, P]
        cov = self.cov - gain @ CAt.T
        return mean.reshape(-1, *self.image_shape), (cov + cov.T) / 2
