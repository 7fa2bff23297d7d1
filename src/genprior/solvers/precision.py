"""Solvers run in IEEE float32 on GPUs: TF32 off while they iterate.

On NVIDIA GPUs since Ampere, cuDNN convolutions use TF32 by default (a 10-bit mantissa),
so ``G(z)`` and the objective carry relative errors near 1e-3.  The sufficient-decrease
test of the line search, ``f(v+) <= f(v) + <grad, v+ - v> + (L / 2) ||v+ - v||^2``, then
fails on rounding noise long before the iterate converges: on an H200 the hard method
stopped after half the iterations it takes on a CPU, and projected gradient after 4 of 45
(11.9 dB instead of 18.5).  :func:`ieee_float32` switches TF32 off for convolutions and
matrix products and restores the caller's settings afterwards; training keeps TF32.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import TypeVar

import torch

F = TypeVar("F", bound=Callable)


@contextlib.contextmanager
def ieee_float32() -> Iterator[None]:
    """Disable TF32 in cuDNN convolutions and CUDA matrix products inside the block."""
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    saved = (cudnn.allow_tf32, matmul.allow_tf32)
    cudnn.allow_tf32 = matmul.allow_tf32 = False
    try:
        yield
    finally:
        cudnn.allow_tf32, matmul.allow_tf32 = saved


def in_ieee_float32(fn: F) -> F:
    """Decorator: run ``fn`` under :func:`ieee_float32`."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with ieee_float32():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
