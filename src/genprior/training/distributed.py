"""Data-parallel training under ``torchrun``: process group, devices, the DDP wrapper.

``torchrun --nproc_per_node K -m genprior train ...`` starts K processes with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and ``MASTER_ADDR/PORT`` set; :func:`setup` joins that
process group (gloo on the CPU, nccl on CUDA).  Every rank holds the whole model and
data set, draws the same global batch and trains on its own slice of it
(:func:`shard`); DistributedDataParallel averages the gradients, so every rank takes
the same optimiser step and the weights stay identical.  Rank 0 writes all files.
Without those variables (or with ``WORLD_SIZE=1``) everything here is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genprior import devices


@dataclass(frozen=True)
class Context:
    """Where this process sits in the job: ``rank`` of ``world_size``, its ``local_rank``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # this module initialised the process group (and destroys it)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device: str = "cpu") -> Context:
    """Join the process group described by ``torchrun``'s environment, if any."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return Context(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)), False)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Context()
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    backend = "nccl" if str(device).startswith("cuda") else "gloo"
    dist.init_process_group(backend=backend)
    return Context(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)), True)


def teardown(ctx: Context) -> None:
    """Leave the process group if :func:`setup` created it."""
    if ctx.owns_group:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()


def resolve_device(name: str, ctx: Context) -> torch.device:
    """``"cpu"`` or ``"cuda"`` (``cuda:LOCAL_RANK`` under torchrun); a clear error without CUDA."""
    return devices.resolve_device(name, ctx.local_rank if ctx.enabled else None)


def shard(indices: Tensor, ctx: Context) -> Tensor:
    """This rank's contiguous slice of a global batch (the batch size must divide evenly)."""
    if not ctx.enabled:
        return indices
    per_rank = indices.shape[0] // ctx.world_size
    return indices[ctx.rank * per_rank : (ctx.rank + 1) * per_rank]


def any_rank(flag: bool, ctx: Context) -> bool:
    """True on every rank if ``flag`` is true on any rank (so all ranks stop at the same step)."""
    if not ctx.enabled:
        return flag
    import torch.distributed as dist

    t = torch.tensor([int(flag)], device=_collective_device(ctx))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def mean_over_ranks(values: Tensor, ctx: Context) -> Tensor:
    """The mean of ``values`` over ranks (for logging)."""
    if not ctx.enabled:
        return values
    import torch.distributed as dist

    t = values.detach().to(_collective_device(ctx), torch.float64).clone()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return (t / ctx.world_size).to(values.device)


def _collective_device(ctx: Context) -> torch.device:
    import torch.distributed as dist

    return torch.device("cuda", ctx.local_rank) if dist.get_backend() == "nccl" else torch.device("cpu")


class Objective(nn.Module):
    """Routes ``model.objective(phase, batch, size)`` through ``forward`` so that
    DistributedDataParallel sees every forward pass and averages the gradients."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, phase: str, batch: Tensor | None, size: int):
        return self.model.objective(phase, batch, size)


def wrap(model: nn.Module, ctx: Context, device: torch.device) -> nn.Module:
    """``Objective(model)``, inside DistributedDataParallel when there are several ranks.

    DDP broadcasts rank 0's weights at construction, so all ranks start identical.
    """
    objective = Objective(model)
    if not ctx.enabled:
        return objective
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(
        objective,
        device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=bool(getattr(model, "find_unused_parameters", False)),
    )
