"""DistributedDataParallel for the training loop: one wrapper that DDP can see through.

Under ``torchrun`` every rank holds the whole model and data set, draws the same global
batch and trains on its own slice of it (:meth:`genprior.distributed.Rank.take`); DDP
averages the gradients, so every rank takes the same optimiser step and the weights stay
identical.  With one process the wrapper is a plain module.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genprior.distributed import Rank


class Objective(nn.Module):
    """Routes ``model.objective(phase, batch, size)`` through ``forward`` so that
    DistributedDataParallel sees every forward pass and averages the gradients."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, phase: str, batch: Tensor | None, size: int):
        return self.model.objective(phase, batch, size)


def wrap(model: nn.Module, rank: Rank, device: torch.device) -> nn.Module:
    """``Objective(model)``, inside DistributedDataParallel when there are several ranks.

    DDP broadcasts rank 0's weights at construction, so all ranks start identical.
    """
    objective = Objective(model)
    if not rank.sharded:
        return objective
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(
        objective,
        device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=bool(getattr(model, "find_unused_parameters", False)),
    )
