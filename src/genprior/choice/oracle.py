"""The oracle choice of ``lam``: per image, the best PSNR against the truth (the paper's Figure 12).

For each image ``i`` the chosen value is ``lam_i = argmax_lam PSNR(x_lam(y_i), x_i)`` over a
geometric grid.  The grid grows per image: every image is solved at the starting values;
while an image's best value is the largest (smallest) one tried for it, that image alone
is solved once more at the next value past the edge (the grid's ratio), up to
``extensions`` times and within the parameter's bounds.  So a short starting grid around
the expected value costs few solves, and no image's choice is left on a grid edge unless
the extensions or the bounds ran out (reported per image).

Every image starts from the same initial values (random codes or images, drawn once for
all images) at every ``lam``, so images are compared between parameters, not between
random starts.  The oracle needs the truth: it bounds what any rule for ``lam`` can reach,
it is not a rule a user can apply to real data.
"""

from __future__ import annotations

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
    """Per image ``i`` of ``n``: the best ``lam`` over the values tried for it.

    Attributes:
        lam: chosen value per image ``[n]``.
        psnr: PSNR at the chosen value ``[n]``.
        converged: the solve at the chosen value met its stopping rule ``[n]``.
        iterations: iterations of the solve at the chosen value ``[n]``.
        x: reconstructions at the chosen value ``[n, ...]``.
        tried: the values solved for each image, largest first.
        on_edge: the chosen value is still an end of the values tried ``[n]`` (extensions
            or the parameter's bounds ran out).
        solves: number of single-image solves.
        seconds: wall time.
    """

    lam: Tensor
    psnr: Tensor
    converged: Tensor
    iterations: Tensor
    x: Tensor
    tried: list[list[float]]
    on_edge: Tensor
    solves: int
    seconds: float


def oracle_lam(physics, y: Tensor, truth: Tensor, method: str, lams: list[float], generator: nn.Module | None = None,
               extensions: int = 4, others: dict[str, float] | None = None, **fixed: Any) -> OracleChoice:
    """Choose ``lam`` per image by PSNR against ``truth``, growing the grid per image past an edge.

    Args:
        physics, y, truth: the problems (``n`` images) and their true images.
        method: a registered method with a parameter ``lam``.
        lams: the starting values, a geometric sequence of at least two values.
        generator: for generative methods.
        extensions: at most this many values added past each end, per image.
        others: further tuned parameters held fixed (``{"mu": 0.1}``).
        **fixed: further keyword arguments of the method (``max_iter``, ``init``, ...).
    """
    from genprior.choice.tuning import solve_grid

    start = time.perf_counter()
    lams = sorted({float(v) for v in lams}, reverse=True)
    if len(lams) < 2:
        raise InputError(f"the oracle's starting grid needs at least two values of lam, got {lams}")
    if y.shape[0] != truth.shape[0]:
        raise InputError(f"y has {y.shape[0]} images but truth has {truth.shape[0]}")
    ratio = lams[0] / lams[1]
    n = y.shape[0]
    others = dict(others or {})
    inputs = materialise_inputs(method, physics, y, generator, {**fixed, **others, "lam": lams[0]})
    inputs = {k: v for k, v in inputs.items() if k not in ("lam", *others)}
    best_psnr = torch.full((n,), -float("inf"), dtype=torch.float64)
    lam = torch.zeros(n, dtype=torch.float64)
    converged = torch.zeros(n, dtype=torch.bool)
    iterations = torch.zeros(n, dtype=torch.long)
    x: Tensor | None = None
    tried: list[list[float]] = [[] for _ in range(n)]
    solves = 0

    def solve(value: float, rows: list[int]) -> None:
        nonlocal x, solves
        index = torch.tensor(rows, dtype=torch.long)
        sol = solve_grid(physics, y[index], method, [{"lam": value, **others}], generator, keep_x=True,
                         **slice_inputs(inputs, index, n))
        xs = sol.x[0].to(truth.dtype)
        scores = psnr(xs, truth[index]).double().cpu()
        if x is None:
            x = torch.zeros(n, *xs.shape[1:], dtype=xs.dtype, device=xs.device)
        better = scores > best_psnr[index]
        for j, i in enumerate(rows):
            tried[i].append(value)
            if better[j]:
                best_psnr[i], lam[i] = scores[j], value
                converged[i], iterations[i] = bool(sol.converged[0, j]), int(sol.iterations[0, j])
                x[i] = xs[j]
        solves += len(rows)

    for value in lams:
        solve(value, list(range(n)))
    for _ in range(extensions):
        wanted: dict[float, list[int]] = {}
        for i in range(n):
            new = step_past_edge(method, "lam", tried[i], float(lam[i]), ratio)
            if new is not None:
                wanted.setdefault(new, []).append(i)
        if not wanted:
            break
        for value, rows in sorted(wanted.items(), reverse=True):
            solve(value, rows)
    on_edge = torch.tensor([float(lam[i]) in (max(tried[i]), min(tried[i])) for i in range(n)])
    return OracleChoice(lam=lam, psnr=best_psnr, converged=converged, iterations=iterations, x=x,
                        tried=[sorted(t, reverse=True) for t in tried], on_edge=on_edge, solves=solves,
                        seconds=time.perf_counter() - start)


__all__ = ["OracleChoice", "oracle_lam"]
