"""Sharding images across processes started by ``torchrun`` (CPU: the gloo backend).

``genprior reconstruct`` and ``genprior tune`` call :func:`start` once: under
``torchrun --nproc_per_node P`` (which sets ``RANK`` and ``WORLD_SIZE``) it joins the
process group and returns this process's :class:`Shard`; otherwise it returns the
single shard ``(0, 1)`` and nothing distributed happens.  Each rank solves a
contiguous slice of the images (:meth:`Shard.rows`), the per-image records are
gathered to every rank (:func:`gather`) and rank 0 writes the merged result.  Random
quantities (noise, starting codes) are drawn for *all* images before slicing, so the
merged result equals a single-process run up to floating-point summation order and
timings.  (Training with DDP is a separate concern: ``genprior.training``.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Shard:
    """This process's place among ``world`` processes."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0  # this process's index on its machine (its GPU, with --device cuda)

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and prints (rank 0)."""
        return self.rank == 0

    def rows(self, n: int) -> list[int]:
        """The contiguous slice of ``range(n)`` this rank solves (sizes differ by at most one)."""
        return list(range(n * self.rank // self.world, n * (self.rank + 1) // self.world))


def shard_from_env() -> Shard:
    """The shard described by ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` (``(0, 1, 0)`` when unset)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError as exc:
        raise ValueError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers: {exc}") from None
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"invalid RANK={rank} for WORLD_SIZE={world}")
    return Shard(rank, world, local_rank)


def start() -> Shard:
    """Join the gloo process group when started by ``torchrun``; return this process's shard."""
    shard = shard_from_env()
    if shard.world > 1:
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("gloo")
    return shard


def gather(obj: Any, shard: Shard) -> list[Any]:
    """Every rank's ``obj`` in rank order (``[obj]`` for a single process)."""
    if shard.world == 1:
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * shard.world
    dist.all_gather_object(out, obj)
    return out


def stop(shard: Shard) -> None:
    """Leave the process group (after the last collective)."""
    if shard.world > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
