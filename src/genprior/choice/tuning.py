"""Parameter choice: grid search for the best PSNR, and the discrepancy principle.

The paper's protocol: solve the tuning problems for every point of a parameter grid,
keep the point with the best mean PSNR, then evaluate it on separate images.  All grid
points are solved as one batch of ``G * n`` problems (parameters are per-image
tensors), in chunks of at most ``max_batch`` problems where memory asks for it, and
every grid point starts from the same initial values for a given image, so the
comparison is between parameters, not between random starts.

Without ground truth, the **discrepancy principle** (Morozov) chooses ``lam`` so that
the residual ``||A x_lam - y||`` is closest to the expected norm of the noise,
``sigma sqrt(m)`` for ``m`` measurements per image (the black line of the paper's
Figure 7):

- :func:`grid_search` with ``criterion="discrepancy"`` compares the *mean* residual over
  the tuning images with ``sigma sqrt(m)`` (one value for a whole data set);
- :func:`genprior.choice.discrepancy.discrepancy_per_image` picks ``lam`` *per image*
  from a grid solved as one batch (``genprior reconstruct --lam auto``).

The principle chooses one parameter: other parameters (``mu``) must be fixed.  For the
hard method the residual cannot fall below the distance of the data from the range of
``A G``, so it often chooses the smallest ``lam`` of the grid (the paper's Figure 7
observes that hard does not reach the discrepancy value).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from genprior.choice.grids import grid_points
from genprior.errors import InputError
from genprior.methods import check_param_values, get_method
from genprior.methods.batching import check_max_batch, image_chunks
from genprior.methods.common import image_shape
from genprior.methods.inputs import materialise_inputs, repeat_inputs, slice_inputs
from genprior.methods.restarts import repeat_batch
from genprior.methods.sizes import check_solve
from genprior.metrics import psnr
from genprior.physics.noise import expected_noise_norm
from genprior.resources import check_memory
from genprior.validation import check_choice, check_nonnegative

CRITERIA = ("psnr", "discrepancy")


def noise_norm(sigma: float, y: Tensor) -> float:
    """The discrepancy level ``sigma sqrt(m)``, ``m`` = measurements per image of ``y``."""
    check_nonnegative(sigma, "noise level sigma")
    return expected_noise_norm(sigma, y[0].numel())


@dataclass
class GridSolution:
    """Every grid point solved on ``n`` images.

    Attributes:
        points: the ``G`` parameter dicts.
        residual: ``||A x - y||`` per point and image ``[G, n]``.
        iterations: ``[G, n]``.
        converged: ``[G, n]`` bool: the solve met its stopping rule before the cap.
        final_objective: ``[G, n]``.
        x: reconstructions ``[G, n, 1, H, W]`` if kept, else ``None``.
        seconds: wall time of all solves.
    """

    points: list[dict[str, float]]
    residual: Tensor
    iterations: Tensor
    converged: Tensor
    final_objective: Tensor
    x: Tensor | None
    seconds: float


def solve_grid(
    physics,
    y: Tensor,
    method: str,
    grid: dict[str, list[float]] | list[dict[str, float]],
    generator: nn.Module | None = None,
    max_batch: int = 4096,
    keep_x: bool = False,
    **fixed: Any,
) -> GridSolution:
    """Solve every grid point on every image of ``y``, as few batches as ``max_batch`` allows.

    Args:
        physics, y: the problems (``n`` images).
        method: a registered method name.
        grid: ``{parameter: values}`` (its product is searched) or a list of points.
        generator: for generative methods.
        max_batch: at most this many problems (grid points x images x restarts) per solve.
        keep_x: keep every reconstruction (``[G, n, ...]``).
        **fixed: further keyword arguments of the method (``max_iter``, ``init``, ...).
    """
    spec = get_method(method)
    points = grid_points(grid) if isinstance(grid, dict) else list(grid)
    if not points:
        raise InputError("the parameter grid is empty")
    names = set().union(*points)
    unknown = names - set(spec.tunable)
    if unknown:
        raise InputError(f"method {method!r} has no parameter(s) {sorted(unknown)}; it takes {list(spec.tunable)}")
    check_max_batch(max_batch)
    check_param_values(method, {name: [p[name] for p in points if name in p] for name in names})
    start = time.perf_counter()
    n, G = y.shape[0], len(points)
    if keep_x:
        check_memory(4.0 * G * y.shape[0] * math.prod(image_shape(physics, y)),
                     f"keeping the reconstructions of {G} grid points x {n} images", "use a smaller grid")
    latent = getattr(generator, "latent_dim", 0) if spec.needs_generator else 0
    check_solve(method, fixed, n, math.prod(image_shape(physics, y)), latent if isinstance(latent, int) else 0,
                copies=G, max_batch=max_batch)
    fixed = materialise_inputs(method, physics, y, generator, fixed)
    K = int(fixed.get("restarts", 1))
    if n * K > max_batch:  # chunks of images, each solved for the whole grid
        parts = [solve_grid(physics, y[c.start:c.stop], method, points, generator, max_batch, keep_x,
                            **slice_inputs(fixed, list(c), n)) for c in image_chunks(n, K, max_batch)]
        cat = lambda name: torch.cat([getattr(p, name) for p in parts], dim=1)  # noqa: E731  [G, n]
        return GridSolution(points=points, residual=cat("residual"), iterations=cat("iterations"),
                            converged=cat("converged"), final_objective=cat("final_objective"),
                            x=cat("x") if keep_x else None, seconds=time.perf_counter() - start)
    per_solve = max(1, max_batch // (n * K))
    residual, iterations, converged, final, xs = [], [], [], [], []
    for lo in range(0, G, per_solve):
        chunk = points[lo : lo + per_solve]
        g = len(chunk)
        params = {name: torch.tensor([p[name] for p in chunk for _ in range(n)], dtype=y.dtype) for name in names}
        y_rep = repeat_batch(y, g, n)
        result = spec.run(physics, y_rep, generator, **params, **repeat_inputs(fixed, g, n))
        with torch.no_grad():
            r = physics.A(result.x.detach().to(y.dtype)) - y_rep
        residual.append(r.reshape(g, n, -1).norm(dim=2).cpu())
        iterations.append(result.iterations.reshape(g, n))
        converged.append(result.converged.reshape(g, n))
        final.append(result.final_objective.reshape(g, n))
        if keep_x:
            xs.append(result.x.detach().reshape(g, n, *result.x.shape[1:]))
    return GridSolution(points=points, residual=torch.cat(residual), iterations=torch.cat(iterations),
                        converged=torch.cat(converged), final_objective=torch.cat(final), x=torch.cat(xs) if keep_x else None,
                        seconds=time.perf_counter() - start)


def check_criterion(criterion: str, grid: dict[str, list[float]], truth_given: bool, sigma: float | None) -> None:
    """Raise ``ValueError`` unless ``criterion`` can choose a point of ``grid`` with what is given."""
    check_choice(criterion, CRITERIA, "criterion")
    if criterion == "psnr" and not truth_given:
        raise InputError("criterion 'psnr' needs the ground truth of the tuning images")
    if criterion == "discrepancy":
        if sigma is None:
            raise InputError("the discrepancy principle needs the noise level sigma")
        if "lam" not in grid:
            raise InputError("the discrepancy principle chooses lam: the grid must have lam values")
        others = {k: v for k, v in grid.items() if k != "lam" and len(v) > 1}
        if others:
            raise InputError(f"the discrepancy principle chooses one parameter (lam); fix the others, "
                             f"got several values for {sorted(others)}")


def grid_scores(physics, y: Tensor, truth: Tensor | None, method: str, grid: dict[str, list[float]],
                generator: nn.Module | None = None, max_batch: int = 4096, **fixed: Any) -> dict[str, Any]:
    """Per-image scores of every grid point: ``{"points", "psnr" [G, n] or None, "residual" [G, n],
    "iterations" [G, n], "converged" [G, n], "seconds"}`` (the raw material of :func:`choose`)."""
    sol = solve_grid(physics, y, method, grid, generator, max_batch=max_batch, keep_x=truth is not None, **fixed)
    G, n = sol.residual.shape
    scores = None
    if truth is not None:
        x = sol.x.reshape(G * n, *sol.x.shape[2:]).to(truth.dtype)
        scores = psnr(x, truth.repeat(G, *([1] * (truth.dim() - 1)))).reshape(G, n).double().cpu()
    return {"points": sol.points, "psnr": scores, "residual": sol.residual.double(),
            "iterations": sol.iterations.double(), "converged": sol.converged, "seconds": sol.seconds}


def choose(points: list[dict[str, float]], psnr_values: Tensor | None, residual: Tensor, iterations: Tensor,
           converged: Tensor, criterion: str = "psnr", target: float | None = None) -> dict[str, Any]:
    """Choose a grid point from per-image scores ``[G, n]`` (PSNR optional) by ``criterion``.

    Every row of the table says how many of its ``n`` solves converged (``converged``)
    and ``unconverged_points`` counts the grid points where some did not.

    Returns:
        ``{"best", "criterion", "table", "best_residual", "unconverged_points"}`` plus ``"best_psnr"`` with
        PSNR values, ``"noise_norm"`` with a target, and for the discrepancy criterion
        with PSNR values ``"psnr_choice"`` (what PSNR tuning would have chosen).
    """
    G, n = residual.shape
    table: list[dict[str, Any]] = []
    for g, point in enumerate(points):
        row: dict[str, Any] = dict(point)
        if psnr_values is not None:
            row["psnr"] = float(psnr_values[g].mean())
            row["psnr_std"] = float(psnr_values[g].std(unbiased=False)) if n > 1 else 0.0
        row["residual"] = float(residual[g].mean())
        row["iterations"] = float(iterations[g].mean())
        row["converged"] = int(converged[g].sum())
        table.append(row)
    out: dict[str, Any] = {"criterion": criterion, "table": table, "n_images": n,
                           "unconverged_points": sum(row["converged"] < n for row in table)}
    if target is not None:
        out["noise_norm"] = target
    psnr_best = int(torch.argmax(psnr_values.mean(1))) if psnr_values is not None else None
    if criterion == "psnr":
        best = psnr_best
    else:
        best = int(torch.argmin((residual.mean(1) - target).abs()))
        if psnr_best is not None:
            out["psnr_choice"] = {"best": points[psnr_best], "psnr": table[psnr_best]["psnr"]}
    out["best"] = points[best]
    out["best_converged"] = table[best]["converged"]
    if psnr_values is not None:
        out["best_psnr"] = table[best]["psnr"]
    out["best_residual"] = table[best]["residual"]
    return out


def grid_search(
    physics,
    y: Tensor,
    truth: Tensor | None,
    method: str,
    grid: dict[str, list[float]],
    generator: nn.Module | None = None,
    criterion: str = "psnr",
    sigma: float | None = None,
    max_batch: int = 4096,
    **fixed: Any,
) -> dict[str, Any]:
    """Solve every grid point on the tuning images in one batch and choose a point.

    Args:
        physics, y: the tuning problems, ``n`` images.
        truth: their ground truth ``[n, 1, H, W]`` (needed for ``criterion="psnr"``; with
            it, the PSNR of every point is reported for either criterion).
        method: a registered method name.
        grid: ``{parameter: values}``; the product of the lists is searched.
        generator: the generator for generative methods.
        criterion: ``"psnr"`` (best mean PSNR) or ``"discrepancy"`` (mean residual
            closest to ``sigma sqrt(m)``; all parameters but ``lam`` must be fixed).
        sigma: the noise level (needed for ``"discrepancy"``).
        max_batch: problems per solve at most.
        **fixed: further keyword arguments of the method (``max_iter``, ``init``, ...).

    Returns:
        ``{"best": {param: value}, "best_psnr", "best_converged", "criterion", "table": [{**params,
        "psnr", "psnr_std", "residual", "iterations", "converged"}], "unconverged_points", "seconds"}``; with ``sigma`` also
        ``"noise_norm"``; for the discrepancy criterion with ground truth also
        ``"psnr_choice"`` (the point PSNR tuning would have chosen, for comparison).
    """
    check_criterion(criterion, grid, truth is not None, sigma)
    raw = grid_scores(physics, y, truth, method, grid, generator, max_batch=max_batch, **fixed)
    out = choose(raw["points"], raw["psnr"], raw["residual"], raw["iterations"], raw["converged"], criterion,
                 noise_norm(sigma, y) if sigma is not None else None)
    out["seconds"] = raw["seconds"]
    return out
