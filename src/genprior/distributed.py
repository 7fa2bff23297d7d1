"""Processes started by ``torchrun``: where this one sits, its process group, the collectives.

``torchrun --nproc_per_node P ...`` starts P copies of a command with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and ``MASTER_ADDR/PORT`` set.  :func:`process_group`
reads and validates those variables once, joins the process group (gloo on the CPU,
nccl for ``cuda``) and yields this process's :class:`Rank`; on exit it leaves the group
only if it created it, so a caller that set up its own group keeps it.  Without those
variables (or with ``WORLD_SIZE=1``) the rank is ``0`` of ``1`` and nothing
distributed happens.

Joining waits at most :func:`join_timeout` seconds (``GENPRIOR_DIST_TIMEOUT``, default
:data:`JOIN_SECONDS`) for the other processes: a shell that still holds ``WORLD_SIZE=2``
and friends from an earlier job, with no peer ever coming, fails with one line naming
those variables instead of waiting forever.  Once all have joined, collectives keep
torch's own (long) timeout.

Two uses share this module: ``reconstruct`` and ``tune`` split the *images* (each rank
solves whole chunks of them, :meth:`Rank.rows`, and the records are gathered with
:func:`gather`); ``train`` splits every *batch* (DistributedDataParallel, in
:mod:`genprior.training.ddp`, averages the gradients; :func:`mean_over_ranks` and
:func:`any_rank` keep the logs and the stopping decision the same on every rank).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from genprior.devices import resolve_device
from genprior.errors import InputError

TIMEOUT_ENV = "GENPRIOR_DIST_TIMEOUT"
JOIN_SECONDS = 120.0  # torchrun starts every process at once; a peer later than this is not coming
_VARIABLES = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
_JOINS = itertools.count()  # every rank calls process_group in the same order: the n-th join meets the n-th


@dataclass(frozen=True)
class Rank:
    """This process's place in the job: ``rank`` of ``world_size``, its ``local_rank``
    (its index on its machine) and ``device`` (under ``torchrun``, ``cuda`` is the GPU of
    the local rank, so the processes of one machine do not share a GPU)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and prints (rank 0)."""
        return self.rank == 0

    @property
    def sharded(self) -> bool:
        """Whether there are several processes."""
        return self.world_size > 1

    def rows(self, n: int, chunk: int = 1) -> range:
        """The rows of ``range(n)`` this rank owns: a contiguous run of whole chunks.

        ``range(n)`` is cut into chunks of ``chunk`` rows (the last may be shorter) and
        the chunks are split contiguously, so the numbers of chunks of two ranks differ
        by at most one.  A rank's first row is a multiple of ``chunk``: solving its rows
        in chunks of ``chunk`` forms the same chunks as one process would.
        """
        if chunk < 1:
            raise InputError(f"chunk must be >= 1, got {chunk}")
        chunks = -(-n // chunk)
        lo = chunks * self.rank // self.world_size * chunk
        hi = chunks * (self.rank + 1) // self.world_size * chunk
        return range(min(lo, n), min(hi, n))

    def take(self, t: Tensor) -> Tensor:
        """This rank's contiguous share of ``t`` along its first axis (:meth:`rows`)."""
        r = self.rows(t.shape[0])
        return t[r.start : r.stop]


def from_environment(device: str = "cpu") -> Rank:
    """The :class:`Rank` described by ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` (``0`` of ``1``
    when unset), on ``device`` (``cpu``, ``cuda`` or ``cuda:K``); joins nothing.

    Raises:
        ValueError: the variables are not integers or ``RANK`` is outside ``[0, WORLD_SIZE)``;
            an unknown or unavailable device.
    """
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError as exc:
        raise InputError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers: {exc}") from None
    if world < 1 or not 0 <= rank < world:
        raise InputError(f"invalid RANK={rank} for WORLD_SIZE={world}")
    return Rank(rank, world, local_rank, from_environment_device(device, world, local_rank))


def from_environment_device(name: str, world_size: int, local_rank: int) -> torch.device:
    """``name`` as a device; with several processes ``cuda`` means ``cuda:local_rank``."""
    return resolve_device(name, local_rank if world_size > 1 and name == "cuda" else None)


@contextmanager
def process_group(device: str = "cpu") -> Iterator[Rank]:
    """Join ``torchrun``'s process group for the block and yield this process's :class:`Rank`.

    The group uses nccl when ``device`` is ``cuda`` and gloo otherwise.  A group that is
    already initialised (by the caller) is used as it is and left open; one created here
    is destroyed on exit, after a barrier so that no rank leaves while another still
    waits in a collective.
    """
    import torch.distributed as dist

    rank = from_environment(device)
    created = False
    if dist.is_available() and dist.is_initialized():  # the caller's group is the truth
        rank = Rank(dist.get_rank(), dist.get_world_size(), rank.local_rank,
                    from_environment_device(device, dist.get_world_size(), rank.local_rank))
    elif rank.sharded:
        if not dist.is_available():
            raise InputError(f"WORLD_SIZE={rank.world_size} but this torch build has no torch.distributed; "
                             "unset WORLD_SIZE, RANK and LOCAL_RANK to run as one process")
        store = join(rank)
        dist.init_process_group("nccl" if rank.device.type == "cuda" else "gloo", store=store, rank=rank.rank,
                                world_size=rank.world_size)
        created = True
    ok = False
    try:
        yield rank
        ok = True
    finally:
        if created:
            if ok:
                dist.barrier()
            dist.destroy_process_group()


def join_timeout() -> float:
    """Seconds to wait for the other processes: ``GENPRIOR_DIST_TIMEOUT`` or :data:`JOIN_SECONDS`."""
    text = os.environ.get(TIMEOUT_ENV)
    if text is None:
        return JOIN_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{TIMEOUT_ENV} must be a number of seconds > 0, got {text!r}")
    return value


def join(rank: Rank):
    """The rendezvous store of ``torchrun``'s variables, once every process has reached it.

    Raises:
        InputError: ``MASTER_ADDR`` / ``MASTER_PORT`` missing or malformed, or the other
            processes did not arrive within :func:`join_timeout` seconds; the message
            names the variables that asked for them.
    """
    from datetime import timedelta

    import torch.distributed as dist

    given = ", ".join(f"{k}={os.environ[k]}" for k in _VARIABLES if k in os.environ)
    fix = ("start every process with torchrun (e.g. `torchrun --nproc_per_node 2 -m genprior ...`), or unset "
           "WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT to run as one process")
    missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(k)]
    if missing:
        raise InputError(f"WORLD_SIZE={rank.world_size} asks for {rank.world_size} processes but "
                         f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set ({given}); {fix}")
    try:
        port = int(os.environ["MASTER_PORT"])
    except ValueError:
        port = -1
    if not 0 <= port < 2**16:
        raise InputError(f"MASTER_PORT must be a port number (0 to 65535), got {os.environ['MASTER_PORT']!r}")
    seconds = join_timeout()
    agent = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == str(True)  # torchrun's agent hosts the store
    prefix = f"genprior/join/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}/{next(_JOINS)}"
    try:
        store = dist.TCPStore(os.environ["MASTER_ADDR"], port, rank.world_size, is_master=not agent and rank.rank == 0,
                              timeout=timedelta(seconds=seconds), wait_for_workers=False, multi_tenant=not agent)
        if store.add(f"{prefix}/count", 1) == rank.world_size:
            store.set(f"{prefix}/ready", "1")
        store.wait([f"{prefix}/ready"], timedelta(seconds=seconds))
    except (RuntimeError, OSError) as exc:  # torch's DistStoreError / DistNetworkError are RuntimeErrors
        reason = " ".join(str(exc).split())[:200]
        raise InputError(f"this process is rank {rank.rank} of WORLD_SIZE={rank.world_size}, but the other processes "
                         f"did not join within {seconds:g} s ({given}; {reason}); {fix}; {TIMEOUT_ENV} sets the "
                         "wait") from None
    store.set_timeout(timedelta(minutes=30))  # from here on, torch's default for collectives
    return store


def gather(obj: Any, rank: Rank) -> list[Any]:
    """Every rank's ``obj`` (any picklable object) in rank order (``[obj]`` for one process)."""
    if not rank.sharded:
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * rank.world_size
    dist.all_gather_object(out, obj)
    return out


def any_rank(flag: bool, rank: Rank) -> bool:
    """True on every rank if ``flag`` is true on any rank (so that all ranks stop together)."""
    if not rank.sharded:
        return flag
    import torch.distributed as dist

    t = torch.tensor([int(flag)], device=_collective_device(rank))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def mean_over_ranks(values: Tensor, rank: Rank) -> Tensor:
    """The element-wise mean of ``values`` over ranks (summed in float64)."""
    if not rank.sharded:
        return values
    import torch.distributed as dist

    t = values.detach().to(_collective_device(rank), torch.float64).clone()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return (t / rank.world_size).to(values.device, values.dtype)


def _collective_device(rank: Rank) -> torch.device:
    """Where tensors of a collective live: the GPU for nccl, else the CPU."""
    import torch.distributed as dist

    return rank.device if dist.get_backend() == "nccl" else torch.device("cpu")


__all__ = ["JOIN_SECONDS", "Rank", "TIMEOUT_ENV", "any_rank", "from_environment", "gather", "join", "join_timeout",
           "mean_over_ranks", "process_group"]
