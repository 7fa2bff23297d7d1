"""Checks shared by every denoiser ``D(x, sigma)``: the images it takes and the noise levels it knows.

A denoiser takes images ``x`` ``[B, 1, n, n]`` of the size it was made for and a noise
level ``sigma`` given as a number (one level for the batch) or a tensor of ``B`` levels
(shape ``[B]``, ``[B, 1, 1, 1]`` or one element); a level outside its range
``[sigma_min, sigma_max]`` is an :class:`~genprior.errors.InputError`, not a silent
extrapolation.  Levels within a relative ``1e-6`` of the range (rounding in a schedule
that ends exactly at ``sigma_min``) are clamped into it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genprior.errors import InputError

RANGE_SLACK = 1e-6  # relative slack at the ends of the range


def check_images(x: Tensor, image_shape: tuple[int, ...], who: str) -> None:
    """Raise :class:`InputError` unless ``x`` is a batch ``[B, *image_shape]`` of floating-point images."""
    if not isinstance(x, Tensor):
        raise InputError(f"{who} takes a tensor of images [B, {', '.join(map(str, image_shape))}], "
                         f"got {type(x).__name__}")
    if x.ndim != 1 + len(image_shape) or tuple(x.shape[1:]) != tuple(image_shape):
        raise InputError(f"{who} was made for images of shape [B, {', '.join(map(str, image_shape))}], got "
                         f"{list(x.shape)}")
    if not x.is_floating_point():
        raise InputError(f"{who} takes floating-point images, got {x.dtype}")


def _range_text(low: float, high: float) -> str:
    return f"[{low:.4g}, {high:.4g}]"


def noise_levels(sigma: float | Tensor, batch: int, like: Tensor, low: float, high: float, who: str,
                 range_name: str = "range") -> Tensor:
    """``sigma`` as a tensor ``[B]`` on ``like``'s device and dtype, checked against ``[low, high]``
    (errors name ``who`` and its ``range_name``: "the denoiser's trained range").

    Raises:
        InputError: ``sigma`` is not a number or a tensor of 1 or ``B`` numbers, is not
            finite, or lies outside ``[low, high]`` (beyond :data:`RANGE_SLACK`).
    """
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float, Tensor)):
        raise InputError(f"{who}: sigma must be a number or a tensor of noise levels, got {type(sigma).__name__}")
    s = torch.as_tensor(sigma).detach().reshape(-1)
    if s.numel() not in (1, batch):
        raise InputError(f"{who}: sigma has {s.numel()} values for {batch} images; give one number or one per image")
    s_min, s_max = (float(v) for v in torch.aminmax(s.double()))  # one host sync per call
    if not (math.isfinite(s_min) and math.isfinite(s_max)):
        raise InputError(f"{who}: sigma must be finite, got {sigma!r}")
    if s_min < low * (1 - RANGE_SLACK) or s_max > high * (1 + RANGE_SLACK):
        bad = s_min if s_min < low * (1 - RANGE_SLACK) else s_max
        raise InputError(f"sigma {bad:.4g} is outside {who}'s {range_name} {_range_text(low, high)}")
    out = torch.as_tensor(sigma).reshape(-1).to(device=like.device, dtype=like.dtype).clamp(low, high)
    return out.expand(batch) if out.numel() == 1 else out
