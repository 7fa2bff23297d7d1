"""Parameter choice by grid search on tuning images with known ground truth.

The paper's protocol: solve the tuning problems for every point of a parameter grid,
keep the point with the best mean PSNR, then evaluate it on separate images.  All
grid points are solved as one batch (parameters are per-image tensors), and every
grid point starts from the same initial codes for a given image so that the
comparison is between parameters, not between random starts.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import Tensor, nn

from genprior.evaluation.metrics import psnr
from genprior.methods import get_method
from genprior.methods.common import frozen, initial_latent


def paper_grid(start: float, factor: float, floor: float) -> list[float]:
    """``start, start * factor, ...`` down to ``floor`` (the authors' grids: factor 0.5 or 0.25)."""
    if not (0 < factor < 1) or start <= 0 or floor <= 0:
        raise ValueError(f"need start > 0, floor > 0 and 0 < factor < 1, got {start}, {floor}, {factor}")
    values, v = [], start
    while v >= floor * (1 - 1e-9):
        values.append(v)
        v *= factor
    return values


def grid_points(grid: dict[str, list[float]]) -> list[dict[str, float]]:
    """The Cartesian product of a ``{name: values}`` grid as a list of parameter dicts."""
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]


def grid_search(
    physics,
    y: Tensor,
    truth: Tensor,
    method: str,
    grid: dict[str, list[float]],
    generator: nn.Module | None = None,
    **fixed: Any,
) -> dict[str, Any]:
    """Solve every grid point on the tuning images in one batch; pick the best mean PSNR.

    Args:
        physics, y: the tuning problems, ``n`` images.
        truth: their ground truth ``[n, 1, H, W]``.
        method: a registered method name.
        grid: ``{parameter: values}``; the product of the lists is searched.
        generator: the generator for generative methods.
        **fixed: further keyword arguments of the method (``max_iter``, ``init``, ...).

    Returns:
        ``{"best": {param: value}, "best_psnr": float, "table": [{**params, "psnr": mean}]}``.
    """
    spec = get_method(method)
    unknown = set(grid) - set(spec.params)
    if unknown:
        raise ValueError(f"method {method!r} has no parameter(s) {sorted(unknown)}; it takes {list(spec.params)}")
    points = grid_points(grid)
    if not points:
        raise ValueError("the parameter grid is empty")
    n, G = y.shape[0], len(points)
    y_all = y.repeat(G, *([1] * (y.dim() - 1)))
    params = {name: torch.tensor([p[name] for p in points for _ in range(n)], dtype=y.dtype) for name in grid}
    if spec.needs_generator and not isinstance(fixed.get("init", "random"), Tensor):
        with frozen(generator):
            z0 = initial_latent(generator, physics, y, fixed.get("init", "random"), fixed.get("seed", 0))
        fixed = {**fixed, "init": z0.repeat(G, 1)}
    result = spec.function(physics, y_all, generator=generator, **params, **fixed)
    scores = psnr(result.x.detach().to(truth.dtype), truth.repeat(G, 1, 1, 1)).reshape(G, n).mean(1)
    best = int(torch.argmax(scores))
    return {
        "best": points[best],
        "best_psnr": float(scores[best]),
        "table": [{**p, "psnr": float(s)} for p, s in zip(points, scores)],
        "seconds": result.seconds,
    }
