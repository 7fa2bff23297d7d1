"""Channels-last storage of a genprior model's 4-D weights while it computes.

PyTorch's CPU convolutions (oneDNN) run in a blocked channels-last layout; a convolution
whose weight is stored channels-last (NHWC) returns a channels-last output, so the whole
network then runs without converting its activations back and forth between layers.
The values do not change, only their order in memory (the outputs may differ in the last
bits: the kernels sum in another order).

Measured on this project's compact networks (2-core CPU): forward and backward with
respect to the latent code of the compact decoders at a batch of 100, 1.6-1.9x faster (the
measurement :func:`genprior.methods.common.frozen` cites; every latent solve); one training
step of the compact AE/VAE 1.2-1.3x and of the 128x128 VAEs 1.2-1.4x, while the GAN's and
the denoiser's steps were no faster (0.8-1.0x), so those two train in the default layout
(benchmarks/RESULTS.md, ``bench_training_layout``).

Only genprior's own model classes are converted: a module from elsewhere may ``view`` a
convolution's output, which needs the default layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn


def is_genprior_model(module: nn.Module) -> bool:
    """Whether ``module`` is one of genprior's model classes (``genprior.models``)."""
    return type(module).__module__.startswith("genprior.models")


@contextmanager
def channels_last(module: nn.Module) -> Iterator[list[Tensor]]:
    """Store the 4-D parameters and buffers of ``module`` channels-last for the duration (the
    same tensors, re-strided in place, so optimisers and references stay valid); restore the
    default layout after.  A module that is not genprior's is left as it is.

    Yields the tensors that were converted (empty if none).
    """
    changed: list[Tensor] = []
    if is_genprior_model(module):
        for t in [*module.parameters(), *module.buffers()]:
            if t.dim() == 4 and t.is_contiguous() and not t.is_contiguous(memory_format=torch.channels_last):
                t.data = t.data.contiguous(memory_format=torch.channels_last)
                changed.append(t)
    try:
        yield changed
    finally:
        for t in changed:
            t.data = t.data.contiguous()


__all__ = ["channels_last", "is_genprior_model"]
