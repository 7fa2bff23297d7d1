"""The paper's protocol for one table cell: tune on some images, test on others (Section 5).

For one (problem, method, generator): measure ``n_tune`` tuning images (noise seed 1)
and ``n_test`` other test images (noise seed 0; the same noise for every method),
choose the parameters with the best mean PSNR on the tuning images, reconstruct the
test images with them and record mean +- std PSNR, how many solves converged, mean
iterations and seconds per image.  The grid search is two-stage to fit a CPU budget:
the method's default grid (:func:`genprior.choice.grids.default_grid`, the authors'
ranges) at every other value (factor 1/4 or 1/16), extended past an edge while the best
point sits on it (one coarse step at a time, up to ``edge_extensions`` times, within the
parameter's bounds), then the neighbours of the best point at the full resolution; a
choice still on an edge of the (extended) coarse range is flagged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

CELL_LOG: ContextVar[Callable[[str], None] | None] = ContextVar("cell_log", default=None)
"""Where :func:`run_cell` reports its stages (set by the runner while it computes a part)."""


def _stage(message: str, started: float) -> None:
    log = CELL_LOG.get()
    if log is not None:
        log(f"{message} ({time.perf_counter() - started:.0f} s)")


@dataclass(frozen=True)
class Protocol:
    """Sizes of the protocol: images, iteration caps (``None``: the methods' own) and grids."""

    n_tune: int = 20
    n_test: int = 100
    max_iter: int | None = None
    init: str = "random"
    relaxed_coordinates: str = "u"
    coarse_values: int | None = None  # quick mode: at most this many values per parameter
    edge_extensions: int = 4  # coarse steps a grid may grow past an edge its best point sits on

    @classmethod
    def quick(cls) -> "Protocol":
        return cls(n_tune=2, n_test=3, max_iter=20, coarse_values=2, edge_extensions=1)

    @property
    def start(self) -> str:
        """Where generative methods start, in words."""
        return "random codes z ~ N(0, I)" if self.init == "random" else "the encoder's codes"

    def describe(self) -> str:
        """The protocol in one sentence, for the report."""
        return (f"parameters chosen for the best mean PSNR on {self.n_tune} tuning images (two-stage grid: the "
                f"authors' ranges at every other value, extended past an edge the best point sits on up to "
                f"{self.edge_extensions} times, then the best point's neighbours), then fixed and evaluated "
                f"on {self.n_test} other test images; the same noise for every method; relaxed solved in "
                f"{self.relaxed_coordinates} coordinates; {self.solving()}")

    def solving(self) -> str:
        """Where solves start and when they stop, in words."""
        return (f"generative methods start from {self.start}; every solve runs to its stopping rule"
                + (f" (quick mode: cap {self.max_iter} iterations)" if self.max_iter else ""))

    def solver_options(self, method: str) -> dict[str, Any]:
        """The keyword arguments of ``method`` this protocol fixes: the cap (if any), the
        start of generative methods, the coordinates of relaxed and the paper's backtracking
        solver (its iteration counts are compared with the paper's)."""
        from genprior.methods import get_method

        takes = get_method(method).defaults()
        options: dict[str, Any] = {"max_iter": self.max_iter} if self.max_iter is not None and "max_iter" in takes \
            else {}
        if get_method(method).needs_generator:
            options["init"] = self.init
        if "solver" in takes:  # the paper's Algorithms 1-3, whatever the method's default solver
            options["solver"] = "backtracking"
        if method == "relaxed":
            options["coordinates"] = self.relaxed_coordinates
        return options


def coarse_grid(method: str, image_size: int, limit: int | None = None) -> dict[str, list[float]]:
    """Every other value of the method's default grid (at most ``limit`` values per parameter)."""
    from genprior.choice.grids import default_grid

    grid = {name: values[::2] for name, values in default_grid(method, image_size).items()}
    if limit is not None:
        grid = {name: values[len(values) // 2 - limit // 2:][:limit] for name, values in grid.items()}
    return grid


def refine(grid: dict[str, list[float]], best: dict[str, float], image_size: int) -> dict[str, list[float]]:
    """The best point and its neighbours at the full resolution (factor 1/2 or 1/4 apart)."""
    factor = 0.25 if image_size <= 28 else 0.5
    return {name: sorted({best[name] / factor, best[name], best[name] * factor}, reverse=True) for name in grid}


def on_edge(grid: dict[str, list[float]], best: dict[str, float]) -> list[str]:
    """Parameters whose chosen value is the largest or smallest of a coarse grid of several values."""
    return [name for name, values in grid.items() if len(values) > 1 and best[name] in (max(values), min(values))]


def search_extending(physics, y: Tensor, truth: Tensor, method: str, grid: dict[str, list[float]],
                     generator: nn.Module | None, extensions: int, **params: Any) -> dict[str, Any]:
    """:func:`~genprior.choice.tuning.grid_search` on ``grid``, then, while the best point sits
    on an edge of a parameter's values, one more value past that edge (the grid's own
    ratio), at most ``extensions`` times per parameter and within its bounds.  Only the new
    slab of points is solved each time.

    Returns:
        ``{"best", "best_psnr", "grid" (the extended grid), "extended" ({name: values
        added}), "unconverged_points", "seconds"}``.
    """
    from genprior.choice.grids import step_past_edge
    from genprior.choice.tuning import grid_search

    result = grid_search(physics, y, truth, method, grid, generator, **params)
    best, best_psnr = result["best"], result["best_psnr"]
    unconverged, seconds = result["unconverged_points"], result["seconds"]
    grid = {name: sorted(values, reverse=True) for name, values in grid.items()}
    extended: dict[str, list[float]] = {}
    for _ in range(extensions):
        grew = False
        for name in on_edge(grid, best):
            values = grid[name]
            new = step_past_edge(method, name, values, best[name], values[0] / values[1])
            if new is None:
                continue
            slab = grid_search(physics, y, truth, method, {**grid, name: [new]}, generator, **params)
            unconverged, seconds = unconverged + slab["unconverged_points"], seconds + slab["seconds"]
            if slab["best_psnr"] > best_psnr:
                best, best_psnr = slab["best"], slab["best_psnr"]
            grid[name] = sorted([*values, new], reverse=True)
            extended.setdefault(name, []).append(new)
            grew = True
        if not grew:
            break
    return {"best": best, "best_psnr": best_psnr, "grid": grid, "extended": extended,
            "unconverged_points": unconverged, "seconds": seconds}


def run_cell(physics, truth_tune: Tensor, truth_test: Tensor, test_indices: list[int], method: str,
             generator: nn.Module | None, noise: float, protocol: Protocol,
             **fixed: Any) -> tuple[dict[str, Any], Tensor]:
    """Tune ``method`` on ``truth_tune``, evaluate it on ``truth_test``: ``(JSON record, reconstructions)``."""
    from genprior.choice.tuning import grid_search
    from genprior.experiments.reconstruction import measure, run_reconstruction

    started = time.perf_counter()
    size = int(truth_tune.shape[-1])
    from genprior.methods import get_method

    params: dict[str, Any] = {**get_method(method).problem_values(noise), **protocol.solver_options(method), **fixed}
    y_tune = measure(physics, truth_tune, noise, seed=1)
    coarse_points = coarse_grid(method, size, protocol.coarse_values)
    _stage(f"{method}: tuning on {truth_tune.shape[0]} images, coarse grid of "
           f"{_points(coarse_points)} points", started)
    first = search_extending(physics, y_tune, truth_tune, method, coarse_points, generator, protocol.edge_extensions,
                             **params)
    coarse = first["grid"]
    fine = refine(coarse, first["best"], size) if protocol.coarse_values is None else coarse
    second = grid_search(physics, y_tune, truth_tune, method, fine, generator, **params) if fine != coarse else None
    if second is None:
        _stage(f"{method}: coarse grid done", started)
    else:
        _stage(f"{method}: coarse grid done{_grown(first['extended'])}, then {_points(fine)} points around the best",
               started)
    chosen = (second or first)["best"]
    _stage(f"{method}: testing {truth_test.shape[0]} images at {_params_text(chosen)}", started)
    unconverged = first["unconverged_points"] + (second["unconverged_points"] if second else 0)
    record, x = run_reconstruction(physics, truth_test, test_indices, method, generator, {**params, **chosen},
                                   noise=noise, seed=0)
    ended = ", ".join(f"{count}/{record['n_images']} {how}" for how, count in record.get("ended", {}).items())
    _stage(f"{method}: PSNR {record['psnr']['mean']:.2f} dB, "
           f"{ended or str(record['converged']) + '/' + str(record['n_images']) + ' converged'}", started)
    return {
        "method": method, "chosen": chosen, "edge": on_edge(coarse, first["best"]),
        "tuning": {"coarse": coarse, "extended": first["extended"], "fine": fine,
                   "best_psnr": (second or first)["best_psnr"], "unconverged_points": unconverged},
        "psnr": record["psnr"], "ssim": record["ssim"], "converged": record["converged"],
        "n_images": record["n_images"], "iterations": record["iterations"],
        "seconds_per_image": record["seconds_per_image"], "params": record["params"],
        "per_image_psnr": [r["psnr"] for r in record["per_image"]],
        **{key: record[key] for key in ("ended", "nfe") if key in record},  # how images ended; network evaluations
        "seconds": round(time.perf_counter() - started, 2),
    }, x


def _points(grid: dict[str, list[float]]) -> int:
    count = 1
    for values in grid.values():
        count *= len(values)
    return count


def _grown(extended: dict[str, list[float]]) -> str:
    return "".join(f", grown past an edge of {name} by {len(values)}" for name, values in extended.items())


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value:.3g}" for name, value in params.items()) or "its defaults"
