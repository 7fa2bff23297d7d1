"""Exponential moving averages of a network's weights (Polyak averaging with a warm-up).

After update ``t`` of the trained weights ``w``, the average moves as

    w_avg <- b_t w_avg + (1 - b_t) w,    b_t = min(beta, (1 + t) / (10 + t)),

so the first weights fade fast and later ones are averaged over about ``1 / (1 - beta)``
updates (the schedule of Yazici et al. 2019 for GANs; EDM's denoisers keep a similar
average).  Buffers (normalisation statistics) are copied, not averaged.  The average is
an ordinary module of the model, so checkpoints and resumed runs keep it with the
count ``t``; a model uses it in evaluation mode (:class:`~genprior.models.wgan.WGAN`'s
generator, :class:`~genprior.models.denoiser.Denoiser`'s network).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn


def average_copy(module: nn.Module) -> nn.Module:
    """A frozen copy of ``module`` to hold its weight average (starts equal to it)."""
    return copy.deepcopy(module).requires_grad_(False)


@torch.no_grad()
def update_average(average: nn.Module, module: nn.Module, count: Tensor, beta: float) -> None:
    """Fold ``module``'s weights into ``average`` (same architecture) and add 1 to ``count``.

    Args:
        average: the average (from :func:`average_copy`), updated in place.
        module: the network being trained.
        count: a scalar integer tensor (a buffer of the model): updates so far, ``t``.
        beta: the decay ``beta`` in ``[0, 1)``.
    """
    count += 1
    t = count.double()  # kept on the model's device: no host sync per step
    weight = 1 - torch.clamp((1 + t) / (10 + t), max=beta)  # 1 - b_t
    for avg, w in zip(average.parameters(), module.parameters()):
        avg.lerp_(w, weight.to(avg.dtype))
    for avg, w in zip(average.buffers(), module.buffers()):
        avg.copy_(w)
