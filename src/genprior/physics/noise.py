"""Measurement noise: ``y = A x + sigma * e`` with ``e ~ N(0, I)`` from a seeded generator."""

from __future__ import annotations

import torch
from torch import Tensor

from genprior.validation import check_nonnegative


def gaussian_noise(y_clean: Tensor, sigma: float, generator: torch.Generator | None = None) -> Tensor:
    """Return ``y_clean + sigma * e``, ``e ~ N(0, I)`` drawn on the CPU from ``generator``.

    Drawing on the CPU makes the noise identical on every device for a given seed.
    ``sigma`` is relative to a unit-norm operator (the paper's convention).
    """
    check_nonnegative(sigma, "noise level sigma")
    e = torch.randn(y_clean.shape, generator=generator, dtype=y_clean.dtype)
    return y_clean + sigma * e.to(y_clean.device)


def expected_noise_norm(sigma: float, n_measurements: int) -> float:
    """``E||sigma e||`` ~ ``sigma sqrt(m)``: the Morozov discrepancy level for ``m`` measurements."""
    return float(sigma) * float(n_measurements) ** 0.5
