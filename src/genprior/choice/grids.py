"""Parameter grids: the authors' geometric grids, the default grid of each method, grids
written on the command line, and growing a grid one step past the end a choice sits on.

A grid is ``{name: values}``; its points are the Cartesian product of the values.  The
authors' grids are geometric, ``start, start * f, start * f^2, ...`` down to a floor,
with ``f = 0.25`` on 28x28 images (MNIST) and ``0.5`` otherwise (Shapes).
"""

from __future__ import annotations

import itertools
import math

from genprior.errors import InputError
from genprior.methods import get_method, within_bounds
from genprior.params import fields_with
from genprior.resources import GRID_ENV, ResourceLimitError, check_count, grid_limit


def paper_grid(start: float, factor: float, floor: float) -> list[float]:
    """``start, start * factor, ...`` down to ``floor`` (the authors' grids: factor 0.5 or 0.25)."""
    if not (0 < factor < 1) or not 0 < start < math.inf or not 0 < floor < math.inf:
        raise InputError(f"need finite start > 0, floor > 0 and 0 < factor < 1, got {start}, {floor}, {factor}")
    count = math.floor(math.log(floor / start) / math.log(factor) + 1e-9) + 1 if floor <= start else 0
    check_count(count, grid_limit(), f"the grid {start:g}:{factor:g}:{floor:g}'s number of values",
                f"use a smaller factor (coarser grid) or a higher floor, or raise the limit with {GRID_ENV}")
    values, v = [], start
    while v >= floor * (1 - 1e-9):
        values.append(v)
        v *= factor
    return values


def default_grid(method: str, image_size: int) -> dict[str, list[float]]:
    """The default grid of ``method``: start high, multiply by 0.25 (28x28) or 0.5, down to a floor.

    The start and floors are the ``grid`` of each tunable field of the method's parameter
    dataclass (:mod:`genprior.methods`); the factor is 0.25 for 28x28 images (MNIST, the
    authors' choice there) and 0.5 otherwise (Shapes).  The ranges hold every value the
    authors chose (REFERENCE.md), rescaled to this package's unscaled data term.
    """
    factor = 0.25 if image_size <= 28 else 0.5
    grids = fields_with(get_method(method).parameters, "grid")
    return {name: paper_grid(start, factor, floors[factor]) for name, (start, floors) in grids.items()}


def parse_grid(specs: list[str]) -> dict[str, list[float]]:
    """Parse ``["lam=0.4:0.5:1e-4", "mu=0.1,0.01"]``: ``start:factor:floor`` or a comma list."""
    grid: dict[str, list[float]] = {}
    for spec in specs:
        name, sep, body = spec.partition("=")
        name = name.strip()
        if not sep or not name or not body:
            raise InputError(f"a grid is NAME=start:factor:floor or NAME=v1,v2,...; got {spec!r}")
        try:
            if ":" in body:
                start, factor, floor = (float(t) for t in body.split(":"))
                values = paper_grid(start, factor, floor)
            else:
                check_count(body.count(",") + 1, grid_limit(), f"the number of values in grid {name!r}",
                            f"give fewer values, or raise the limit with {GRID_ENV}")
                values = [float(t) for t in body.split(",") if t.strip()]
        except ResourceLimitError:
            raise
        except (ValueError, OverflowError) as exc:
            raise InputError(f"cannot read grid {spec!r}: {exc}") from None
        if not values or any(not 0 <= v < math.inf for v in values):
            raise InputError(f"grid {spec!r} must hold finite values >= 0")
        grid[name] = values
    return grid


def grid_points(grid: dict[str, list[float]]) -> list[dict[str, float]]:
    """The Cartesian product of a ``{name: values}`` grid as a list of parameter dicts."""
    names = list(grid)
    check_count(math.prod(len(v) for v in grid.values()), grid_limit(), "the number of grid points (the "
                "product of the values per parameter)", f"give fewer values, or raise the limit with {GRID_ENV}")
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]


def step_past_edge(method: str, param: str, values: list[float], chosen: float, ratio: float) -> float | None:
    """The next value past the end of ``values`` that ``chosen`` sits on.

    ``max(values) * ratio`` when ``chosen`` is the largest value, ``min(values) / ratio``
    when it is the smallest (``ratio > 1``, the grid's own step); ``None`` when ``chosen``
    lies inside, or when the new value is outside the bounds of ``method``'s ``param``.
    """
    top, bottom = max(values), min(values)
    if chosen == top:
        new = top * ratio
    elif chosen == bottom:
        new = bottom / ratio
    else:
        return None
    return new if within_bounds(method, param, new) else None


__all__ = ["default_grid", "grid_points", "paper_grid", "parse_grid", "step_past_edge"]
