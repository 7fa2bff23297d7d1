"""The one batched iteration loop of every solver: active set, per-image stopping, statistics, callback.

A solver describes one iteration of ``B`` independent problems as a function
``step(active, history) -> Report``: it updates the images whose indices ``active``
(``[b]``) it is given and reports, per image, named statistics (the objective, a step
size, the change of the iterate, ...) and whether each image stops now and why.  The
loop (:func:`iterate`) owns everything else:

- the active set: images that stopped are not passed again;
- per-image iteration counts and how each image ended (:data:`ENDINGS`):
  ``"converged"`` (its stopping rule fired), ``"stalled"`` (the solver could not make
  progress, e.g. every line-search try failed), ``"max_iter"`` (the cap),
  ``"callback"`` (the caller stopped it) or ``"finished"`` (a method that runs a fixed
  schedule, such as a diffusion sampler or plug-and-play's decreasing noise levels,
  reached its end: there is no stopping rule to meet);
- the history of every statistic, one ``[B]`` row per recorded iteration (row 0: the
  start), NaN where an image was not recorded or had stopped, kept as ``[R, B]`` tensors
  on the CPU in float64; the iteration number of each row is kept too;
- an optional ``callback(Iteration) -> None | bool | Tensor``, called after every
  iteration with the statistics of the images just updated; ``True`` stops every
  image, a ``[b]`` bool tensor stops those images (ending ``"callback"``);
- IEEE float32 on GPUs while it runs (:mod:`genprior.solvers.precision`).

Solvers keep their own state (variables, step sizes) in closures and index it with
``active``; stopping rules that look back over the history (a decrease over a window of
iterations) read it from :class:`History`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from genprior.errors import InputError
from genprior.solvers.precision import ieee_float32

#: How an image's iterations ended, in the order of their codes.
ENDINGS = ("converged", "stalled", "max_iter", "callback", "finished")
_RUNNING = -1


@dataclass
class Report:
    """What one iteration says of the ``b`` images it updated.

    Attributes:
        stats: named per-image statistics ``[b]`` (NaN where not computed this iteration).
        converged: ``[b]`` bool: the image's stopping rule fired; it stops, converged.
        stalled: ``[b]`` bool: the image cannot go on (e.g. every line-search try failed); it
            stops, unconverged.  ``None``: none did.
        record: whether this iteration is a row of the history (images that stop are always
            recorded: a solver that records every ``r`` iterations still records the last).
        finished: ``[b]`` bool: the image's fixed schedule ended; it stops (neither converged nor
            capped).  ``None``: none did.
    """

    stats: dict[str, Tensor]
    converged: Tensor
    stalled: Tensor | None = None
    record: bool = True
    finished: Tensor | None = None


@dataclass
class Iteration:
    """What a callback sees after an iteration: its number, the images updated and their statistics."""

    iteration: int
    active: Tensor
    stats: dict[str, Tensor]


Callback = Callable[[Iteration], "bool | Tensor | None"]


class History:
    """The recorded rows of every statistic so far (each row ``[B]``, float64, on the loop's device).

    Attributes:
        iteration: the number of the iteration being run (1-based).
        last: whether it is the last one the cap allows (images still running then stop).
    """

    def __init__(self, initial: dict[str, Tensor]) -> None:
        self.rows: dict[str, list[Tensor]] = {k: [v.detach().to(torch.float64)] for k, v in initial.items()}
        self.at: list[int] = [0]
        self.iteration = 0
        self.last = False

    def back(self, name: str, lag: int) -> Tensor | None:
        """The row recorded ``lag`` rows before the latest one (``lag = 0``: the latest), or ``None``."""
        rows = self.rows[name]
        return rows[-1 - lag] if lag < len(rows) else None

    def append(self, iteration: int, values: dict[str, Tensor], B: int, active: Tensor) -> None:
        for name in set(self.rows) | set(values):
            row = torch.full((B,), float("nan"), dtype=torch.float64, device=active.device)
            if name in values:
                row[active] = values[name].detach().to(torch.float64)
            self.rows.setdefault(name, [torch.full_like(row, float("nan"))] * len(self.at)).append(row)
        self.at.append(iteration)

    def stacked(self) -> dict[str, Tensor]:
        """Every statistic as an ``[R, B]`` tensor on the CPU."""
        return {name: torch.stack(rows).cpu() for name, rows in self.rows.items()}


@dataclass
class LoopRecord:
    """The loop's record of a batch.

    Attributes:
        iterations: iterations each image ran ``[B]`` (int64, CPU).
        converged: ``[B]`` bool: the image's stopping rule fired.
        ended: how each image ended (one of :data:`ENDINGS`).
        history: every statistic as ``[R, B]`` (float64, CPU; row 0 the start).
        recorded_at: the iteration number of each history row ``[R]``.
    """

    iterations: Tensor
    converged: Tensor
    ended: list[str]
    history: dict[str, Tensor]
    recorded_at: Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.long))


@dataclass
class SolveState:
    """A solver's output: the final variables, the loop's record and, for line-search solvers,
    the final per-image step-size estimates (to carry into a later call)."""

    variables: dict[str, Tensor]
    record: LoopRecord
    lipschitz: dict[str, Tensor] | None = None

    @property
    def iterations(self) -> Tensor:
        return self.record.iterations

    @property
    def converged(self) -> Tensor:
        return self.record.converged

    @property
    def objective(self) -> Tensor:
        """The objective's history ``[R, B]``."""
        return self.record.history["objective"]


def iterate(step: Callable[[Tensor, History], Report], initial: dict[str, Tensor], max_iter: int,
            callback: Callback | None = None) -> LoopRecord:
    """Run ``step`` until every image stopped or ``max_iter`` iterations.

    Args:
        step: one iteration for the active images: ``step(active [b], history) -> Report``.
        initial: the statistics at the start, each ``[B]`` (row 0 of the history; at least one).
        max_iter: iterations at most (``>= 0``); images still running then end ``"max_iter"``.
        callback: called after every iteration (module docstring).

    Returns:
        The :class:`LoopRecord`.
    """
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 0:
        raise InputError(f"max_iter must be an integer >= 0, got {max_iter!r}")
    if not initial:
        raise InputError("the loop needs at least one statistic at the start (the objective)")
    first = next(iter(initial.values()))
    B, device = first.shape[0], first.device
    history = History(initial)
    active = torch.ones(B, dtype=torch.bool, device=device)
    iterations = torch.zeros(B, dtype=torch.long, device=device)
    ended = torch.full((B,), _RUNNING, dtype=torch.long, device=device)
    with ieee_float32():
        for k in range(1, max_iter + 1):
            idx = active.nonzero().squeeze(1)
            if idx.numel() == 0:
                break
            history.iteration, history.last = k, k == max_iter
            report = step(idx, history)
            iterations[idx] += 1
            stop = report.converged.clone()
            code = torch.where(report.converged, 0, _RUNNING)
            for flag, value in ((report.stalled, 1), (report.finished, 4)):
                if flag is not None:
                    code = torch.where(~stop & flag, value, code)
                    stop |= flag
            if callback is not None:
                asked = callback(Iteration(k, idx, report.stats))
                if asked is not None:
                    asked = torch.as_tensor(asked, dtype=torch.bool, device=device).expand(idx.shape)
                    code = torch.where(~stop & asked, 3, code)
                    stop |= asked
            if k == max_iter:
                code = torch.where(~stop, 2, code)
                stop[:] = True
            if report.record or bool(stop.any()):
                history.append(k, report.stats, B, idx)
            ended[idx[stop]] = code[stop]
            active[idx[stop]] = False
    converged = (ended == 0).cpu()
    names = [ENDINGS[int(c)] if c >= 0 else "max_iter" for c in ended.tolist()]  # never started: max_iter = 0
    return LoopRecord(iterations=iterations.cpu(), converged=converged, ended=names, history=history.stacked(),
                      recorded_at=torch.tensor(history.at, dtype=torch.long))


__all__ = ["ENDINGS", "Callback", "History", "Iteration", "LoopRecord", "Report", "SolveState", "iterate"]
