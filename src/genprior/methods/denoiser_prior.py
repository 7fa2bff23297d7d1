"""What the denoiser and diffusion methods share: the denoiser contract, noise schedules, samples.

**A denoiser** is any callable ``D(x, sigma)``: images ``x`` ``[B, 1, H, W]`` holding a
clean image plus Gaussian noise of standard deviation ``sigma`` (a number or a ``[B]``
tensor), mapped to the estimate of the clean image (the MMSE estimate ``E[x0 | x]`` for
a denoiser trained with the squared loss).  genprior's ``denoiser`` model kind is one,
so is :class:`~genprior.models.gaussian_denoiser.GaussianDenoiser` (exact for Gaussian
data) and any DeepInverse denoiser (``forward(x, sigma)``).  A denoiser may declare the
noise levels it was trained on (``sigma_range = (low, high)``, or ``sigma_min`` and
``sigma_max``); a method that needs another level is refused (:func:`check_sigmas`).

**Noise schedules.**  Plug-and-play lowers ``sigma`` geometrically from ``sigma_max``
to ``sigma_min`` (:func:`geometric_sigmas`, DPIR); the diffusion samplers follow
Karras et al.'s schedule (EDM, :func:`karras_sigmas`)

    sigma_i = (s_max^(1/rho) + i / (N - 1) (s_min^(1/rho) - s_max^(1/rho)))^rho,  rho = 7.

**Counting.**  :class:`CountedDenoiser` counts the network evaluations each image has
had (NFE), the cost measure every such method reports.

**Samples.**  Samplers draw ``K`` samples of each image in one batch of ``K B``
(sample-major); :func:`sample_summary` returns their mean (the estimate reported) and
their spread (the mean over pixels of the samples' standard deviation per image).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from genprior.errors import InputError
from genprior.methods.common import image_shape
from genprior.methods.parameters import MethodParams
from genprior.params import param

Denoiser = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class DenoiserParams(MethodParams):
    """What every denoiser method takes besides the seed: nothing yet (a marker: these methods need a denoiser)."""


@dataclass(frozen=True)
class SamplerParams(DenoiserParams):
    """What every diffusion sampler takes: its steps (network evaluations per sample) and samples per image."""

    steps: int = param(50, "sampler steps (network evaluations per sample)", minimum=1)
    samples: int = param(1, "posterior samples per image (the estimate is their mean)", minimum=1)
    sigma_max: float | None = param(None, "the first noise level of the sampler (default: the top of the "
                                    "denoiser's trained range, else 10)", above=0)
    sigma_min: float | None = param(None, "the last noise level (default: the bottom of the denoiser's trained "
                                    "range, else 0.002)", above=0)


def check_denoiser(denoiser: Denoiser | None, physics, y: Tensor, method: str) -> tuple[int, ...]:
    """Check that ``denoiser`` is a callable that maps images of the problem's shape to that shape;
    returns the image shape."""
    if denoiser is None:
        raise InputError(f"method {method!r} needs a denoiser: pass `denoiser=` (a trained denoiser model, a "
                         "GaussianDenoiser, or any callable D(x, sigma) such as a DeepInverse denoiser)")
    if not callable(denoiser):
        raise InputError(f"the denoiser must be callable as D(x, sigma), got {type(denoiser).__name__}")
    shape = image_shape(physics, y)
    expected = getattr(denoiser, "image_shape", None)
    if expected is not None and tuple(expected) != tuple(shape):
        raise InputError(f"the denoiser was made for images of shape {list(expected)} but the operator expects "
                         f"{list(shape)}: use a denoiser trained on images of the problem's size")
    return shape


def sigma_range(denoiser: Denoiser) -> tuple[float, float] | None:
    """The noise levels ``(low, high)`` the denoiser was trained on, where it says (``sigma_range``, or
    ``sigma_min`` and ``sigma_max``, as genprior's denoisers do)."""
    found = getattr(denoiser, "sigma_range", None)
    if found is None and getattr(denoiser, "sigma_min", None) is not None:
        found = (denoiser.sigma_min, denoiser.sigma_max)
    return (float(found[0]), float(found[1])) if found is not None else None


def check_sigmas(denoiser: Denoiser, sigmas: Tensor, method: str) -> None:
    """Refuse noise levels outside the denoiser's trained range (a little slack for rounding)."""
    trained = sigma_range(denoiser)
    if trained is None:
        return
    low, high = float(sigmas.min()), float(sigmas.max())
    if low < trained[0] * (1 - 1e-6) or high > trained[1] * (1 + 1e-6):
        raise InputError(f"method {method!r} needs the denoiser at noise levels {low:.4g} to {high:.4g}, outside "
                         f"its trained range [{trained[0]:.4g}, {trained[1]:.4g}]: choose sigma_min/sigma_max inside "
                         "it, or train the denoiser over a wider range")


def default_sigma_limits(denoiser: Denoiser, sigma_min: float | None, sigma_max: float | None,
                         fallback: tuple[float, float]) -> tuple[float, float]:
    """``(sigma_min, sigma_max)``: those given, else the ends of the trained range, else ``fallback``."""
    trained = sigma_range(denoiser) or fallback
    low = sigma_min if sigma_min is not None else trained[0]
    high = sigma_max if sigma_max is not None else trained[1]
    if not low < high:
        raise InputError(f"sigma_min ({low:g}) must be below sigma_max ({high:g})")
    return low, high


def geometric_sigmas(sigma_max: float, sigma_min: float, n: int) -> Tensor:
    """``n`` noise levels falling geometrically from ``sigma_max`` to ``sigma_min`` (float64)."""
    if n == 1:
        return torch.tensor([sigma_min], dtype=torch.float64)
    return torch.logspace(math.log10(sigma_max), math.log10(sigma_min), n, dtype=torch.float64)


def karras_sigmas(sigma_max: float, sigma_min: float, n: int, rho: float = 7.0) -> Tensor:
    """Karras et al.'s ``n`` noise levels from ``sigma_max`` to ``sigma_min`` (float64; module docstring)."""
    if n == 1:
        return torch.tensor([sigma_max], dtype=torch.float64)
    i = torch.arange(n, dtype=torch.float64) / (n - 1)
    return (sigma_max ** (1 / rho) + i * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho


class CountedDenoiser:
    """``denoiser`` with a count of the evaluations each of the ``B`` rows of a batch has had (NFE)."""

    def __init__(self, denoiser: Denoiser, batch: int, device: torch.device) -> None:
        self.denoiser = denoiser
        self.evaluations = torch.zeros(batch, dtype=torch.long, device=device)

    def __call__(self, x: Tensor, sigma: Tensor | float, rows: Tensor | None = None) -> Tensor:
        """``D(x, sigma)`` for the rows ``rows`` of the batch (all if ``None``); ``sigma`` a number or per row."""
        if rows is None:
            self.evaluations += 1
        else:
            self.evaluations[rows] += 1
        sigma_t = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1).expand(x.shape[0])
        out = self.denoiser(x, sigma_t)
        if not isinstance(out, Tensor) or out.shape != x.shape:
            raise InputError(f"the denoiser returned {getattr(out, 'shape', type(out).__name__)} for images of "
                             f"shape {list(x.shape)}; D(x, sigma) must return images of the shape of x")
        return out


def sample_summary(samples: Tensor, K: int, B: int) -> tuple[Tensor, Tensor]:
    """From ``K B`` samples (sample-major), each image's mean ``[B, ...]`` and spread ``[B]`` (the mean over
    pixels of the standard deviation across its samples; 0 for one sample)."""
    stacked = samples.reshape(K, B, *samples.shape[1:])
    mean = stacked.mean(0)
    if K == 1:
        return mean, torch.zeros(B, dtype=torch.float64)
    spread = stacked.double().std(0, unbiased=True).reshape(B, -1).mean(1)
    return mean, spread.cpu()


def repeat_samples(t: Tensor, K: int) -> Tensor:
    """``t`` ``[B, ...]`` repeated ``K`` times, sample-major ``[K B, ...]``."""
    return t.repeat(K, *([1] * (t.dim() - 1))) if K > 1 else t


def noise(shape: tuple[int, ...], seed: int, like: Tensor) -> Tensor:
    """Standard normal draws of ``shape`` from ``seed`` (on the CPU, then to ``like``'s device and dtype)."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=like.dtype).to(like.device)


__all__ = ["CountedDenoiser", "Denoiser", "DenoiserParams", "SamplerParams", "check_denoiser", "check_sigmas",
           "default_sigma_limits", "geometric_sigmas", "karras_sigmas", "noise", "repeat_samples", "sample_summary",
           "sigma_range"]
