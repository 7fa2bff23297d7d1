"""The oracle choice of parameters: per image, the best PSNR against the truth (the paper's Figure 12).

For each image ``i`` the chosen point is ``p_i = argmax_p PSNR(x_p(y_i), x_i)`` over a
geometric grid of one parameter (``lam``) or the product of the grids of several
(``lam`` and ``mu``).  The grid grows per image: every image is solved at every point
of the starting grid; while an image's best value of a parameter is the largest
(smallest) one tried for it, that image alone gets the next value past that end (the
parameter's own ratio) and is solved at the new points, the new value with every value
of the other parameters tried for it.  Up to ``extensions`` values are added past the
ends of each parameter, within its bounds.  So a short starting grid around the expected
values costs few solves, and no image's choice is left on an end of a parameter's
values unless the extensions or the bounds ran out (reported per image and parameter).
With one parameter this is the 1-D search of :func:`oracle_lam`.

Every image starts from the same initial values (random codes or images, drawn once for
all images; or the encoder's codes) at every point, so images are compared between
parameters, not between starts.  The oracle needs the truth: it bounds what any rule
for the parameters can reach, it is not a rule a user can apply to real data.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from genprior.choice.grids import step_past_edge
from genprior.errors import InputError
from genprior.methods.inputs import materialise_inputs, slice_inputs
from genprior.metrics import psnr


@dataclass
class OracleChoice:
    """Per image ``i`` of ``n``: the best point over the points tried for it.

    Attributes:
        params: chosen value per image ``[n]`` of each tuned parameter, by name.
        psnr: PSNR at the chosen point ``[n]``.
        converged: the solve at the chosen point met its stopping rule ``[n]``.
        iterations: iterations of the solve at the chosen point ``[n]``.
        x: reconstructions at the chosen point ``[n, ...]``.
        tried: per image, the values of each parameter it was solved at (largest first);
            it was solved at every point of their product.
        edges: per parameter, whether the image's chosen value is still an end of its
            values ``[n]`` (extensions or the parameter's bounds ran out).
        solves: number of single-image solves.
        seconds: wall time.
    """

    params: dict[str, Tensor]
    psnr: Tensor
    converged: Tensor
    iterations: Tensor
    x: Tensor
    tried: list[dict[str, list[float]]]
    edges: dict[str, Tensor]
    solves: int
    seconds: float

    @property
    def lam(self) -> Tensor:
        """The chosen ``lam`` per image."""
        return self.params["lam"]

    @property
    def on_edge(self) -> Tensor:
        """Images whose choice is still on an end of some parameter's values ``[n]``."""
        return torch.stack(list(self.edges.values())).any(0)


def _start_grid(grid: dict[str, list[float]]) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Each parameter's starting values (largest first) and its ratio; at least two values each."""
    if not grid:
        raise InputError("the oracle needs at least one parameter to choose")
    values, ratios = {}, {}
    for name, given in grid.items():
        v = sorted({float(x) for x in given}, reverse=True)
        if len(v) < 2:
            raise InputError(f"the oracle's starting grid needs at least two values of {name}, got {v}")
        values[name], ratios[name] = v, v[0] / v[1]
    return values, ratios


def oracle_choice(physics, y: Tensor, truth: Tensor, method: str, grid: dict[str, list[float]],
                  generator: nn.Module | None = None, extensions: int = 4, others: dict[str, float] | None = None,
                  max_batch: int = 4096, **fixed: Any) -> OracleChoice:
    """Choose the parameters of ``grid`` per image by PSNR against ``truth``, growing each
    parameter's values per image past an end (module docstring).

    Args:
        physics, y, truth: the problems (``n`` images) and their true images.
        method: a registered method with the parameters of ``grid``.
        grid: the starting values of each chosen parameter, geometric sequences of at least
            two values (``{"lam": [...], "mu": [...]}``).
        generator: for generative methods.
        extensions: at most this many values added past the ends of each parameter, per image.
        others: further tuned parameters held fixed (``{"mu": 0.1}``).
        max_batch: at most this many problems (points x images) per solve.
        **fixed: further keyword arguments of the method (``max_iter``, ``init``, ...).
    """
    from genprior.choice.tuning import solve_grid

    start = time.perf_counter()
    starts, ratios = _start_grid(grid)
    if y.shape[0] != truth.shape[0]:
        raise InputError(f"y has {y.shape[0]} images but truth has {truth.shape[0]}")
    names, n = list(starts), y.shape[0]
    others = dict(others or {})
    first = {name: values[0] for name, values in starts.items()}
    inputs = materialise_inputs(method, physics, y, generator, {**fixed, **others, **first})
    inputs = {k: v for k, v in inputs.items() if k not in (*names, *others)}
    best_psnr = torch.full((n,), -float("inf"), dtype=torch.float64)
    chosen = {name: torch.zeros(n, dtype=torch.float64) for name in names}
    converged = torch.zeros(n, dtype=torch.bool)
    iterations = torch.zeros(n, dtype=torch.long)
    x: Tensor | None = None
    tried = [{name: list(values) for name, values in starts.items()} for _ in range(n)]
    solved: list[set[tuple[float, ...]]] = [set() for _ in range(n)]
    solves = 0

    def solve(points: list[tuple[float, ...]], rows: list[int]) -> None:
        """Solve images ``rows`` at ``points`` (largest first: ties keep the first point)."""
        nonlocal x, solves
        index = torch.tensor(rows, dtype=torch.long)
        sol = solve_grid(physics, y[index], method, [{**dict(zip(names, p)), **others} for p in points], generator,
                         max_batch=max_batch, keep_x=True, **slice_inputs(inputs, index, n))
        for g, point in enumerate(points):
            xs = sol.x[g].to(truth.dtype)
            scores = psnr(xs, truth[index]).double().cpu()
            if x is None:
                x = torch.zeros(n, *xs.shape[1:], dtype=xs.dtype, device=xs.device)
            for j, i in enumerate(rows):
                solved[i].add(point)
                if scores[j] > best_psnr[i]:
                    best_psnr[i] = scores[j]
                    for name, value in zip(names, point):
                        chosen[name][i] = value
                    converged[i], iterations[i] = bool(sol.converged[g, j]), int(sol.iterations[g, j])
                    x[i] = xs[j]
        solves += len(points) * len(rows)

    def missing(i: int) -> list[tuple[float, ...]]:
        """The points of image ``i``'s values not solved yet, largest first."""
        product = itertools.product(*(sorted(tried[i][name], reverse=True) for name in names))
        return [p for p in product if p not in solved[i]]

    solve(missing(0), list(range(n)))
    for _ in range(extensions):
        for i in range(n):
            for name in names:
                new = step_past_edge(method, name, tried[i][name], float(chosen[name][i]), ratios[name])
                if new is not None:
                    tried[i][name].append(new)
        wanted: dict[tuple[tuple[float, ...], ...], list[int]] = {}
        for i in range(n):
            points = tuple(missing(i))
            if points:
                wanted.setdefault(points, []).append(i)
        if not wanted:
            break
        for points, rows in sorted(wanted.items(), reverse=True):
            solve(list(points), rows)
    edges = {name: torch.tensor([float(chosen[name][i]) in (max(tried[i][name]), min(tried[i][name]))
                                 for i in range(n)]) for name in names}
    return OracleChoice(params=chosen, psnr=best_psnr, converged=converged, iterations=iterations, x=x,
                        tried=[{name: sorted(t[name], reverse=True) for name in names} for t in tried], edges=edges,
                        solves=solves, seconds=time.perf_counter() - start)


def oracle_lam(physics, y: Tensor, truth: Tensor, method: str, lams: list[float], generator: nn.Module | None = None,
               extensions: int = 4, others: dict[str, float] | None = None, **fixed: Any) -> OracleChoice:
    """Choose ``lam`` per image by PSNR against ``truth`` (:func:`oracle_choice` with ``{"lam": lams}``)."""
    return oracle_choice(physics, y, truth, method, {"lam": lams}, generator, extensions, others, **fixed)


__all__ = ["OracleChoice", "oracle_choice", "oracle_lam"]
