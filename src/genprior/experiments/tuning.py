"""Tune a method's parameters on some images, evaluate on others: the record ``tune`` writes.

The paper's protocol (Section 5): solve the tuning images for every point of a grid
(all as one batch), choose the point with the best mean PSNR (or, without ground
truth, by the discrepancy principle), then reconstruct separate test images with it.
Tuning measurements use ``seed + 1``; test measurements use ``seed``, exactly as
``genprior reconstruct --seed SEED`` would make them.  Under ``torchrun`` the tuning
images and the test images are split across processes (:mod:`genprior.distributed`).
"""

from __future__ import annotations

import os
import time
from typing import Any

import torch
from torch import Tensor, nn

from genprior.choice.tuning import check_criterion, choose, grid_scores, noise_norm
from genprior.distributed import Rank, gather
from genprior.experiments.reconstruction import measure, run_reconstruction
from genprior.methods.inputs import materialise_inputs, slice_inputs


def run_tuning(
    physics,
    method: str,
    grid: dict[str, list[float]],
    tune_truth: Tensor,
    test_truth: Tensor,
    test_indices: list[int],
    generator: nn.Module | None = None,
    params: dict[str, Any] | None = None,
    criterion: str = "psnr",
    noise: float = 0.1,
    seed: int = 0,
    rank: Rank | None = None,
    max_batch: int = 4096,
    **info: Any,
) -> dict[str, Any]:
    """Choose parameters on ``tune_truth`` by ``criterion`` and evaluate them on ``test_truth``.

    Returns:
        ``{..info, "method", "criterion", "grid", "chosen", "tuning": {table, ...},
        "test": reconstruct-style record}`` and, for the discrepancy criterion when its
        choice differs from PSNR tuning's, ``"comparison"`` (both choices on the test set).
    """
    from genprior.methods import get_method

    rank = rank or Rank()
    params = {**get_method(method).problem_values(noise), **(params or {})}  # e.g. ddrm's noise level
    check_criterion(criterion, grid, True, noise)
    started = time.perf_counter()
    n = tune_truth.shape[0]
    y = measure(physics, tune_truth, noise, seed + 1)
    fixed = materialise_inputs(method, physics, y, generator, params)
    rows = list(rank.rows(n))
    raw = None
    if rows:
        raw = grid_scores(physics, y[rows], tune_truth[rows], method, grid, generator, max_batch=max_batch,
                          **slice_inputs(fixed, rows, n))
        raw = {k: raw[k] for k in ("points", "psnr", "residual", "iterations", "converged", "seconds")}
    parts = [p for p in gather(raw, rank) if p is not None]
    points = parts[0]["points"]
    cat = lambda key: torch.cat([p[key] for p in parts], dim=1)  # noqa: E731  [G, n]
    tuning = choose(points, cat("psnr"), cat("residual"), cat("iterations"), cat("converged"), criterion,
                    noise_norm(noise, y))
    tuning["seconds"] = max(p["seconds"] for p in parts)
    chosen = tuning["best"]

    test, _ = run_reconstruction(physics, test_truth, test_indices, method, generator, {**params, **chosen},
                                 noise=noise, seed=seed, rank=rank, max_batch=max_batch)
    out: dict[str, Any] = {**info, "method": method, "criterion": criterion, "noise": noise, "seed": seed,
                           "grid": grid, "chosen": chosen, "n_tune": n, "tuning": tuning, "test": test}
    if criterion == "discrepancy":
        other = tuning["psnr_choice"]["best"]
        if other == chosen:
            other_test = test
        else:
            other_test, _ = run_reconstruction(physics, test_truth, test_indices, method, generator,
                                               {**params, **other}, noise=noise, seed=seed, rank=rank,
                                               max_batch=max_batch)
        out["comparison"] = {
            "discrepancy": {"params": chosen, "test_psnr": test["psnr"]["mean"]},
            "psnr_tuned": {"params": other, "test_psnr": other_test["psnr"]["mean"]},
            "difference_db": test["psnr"]["mean"] - other_test["psnr"]["mean"],
        }
    out["seconds"] = round(time.perf_counter() - started, 3)
    return out


def plot_surface(result: dict[str, Any], path: str | os.PathLike) -> None:
    """Mean PSNR (left) and mean residual ``||A x - y||`` (right) against ``lam``, one line per
    other parameter value, with the noise norm ``sigma sqrt(m)`` (the paper's Figure 7 line)
    and the chosen point marked.  Grid points where some solve did not converge (iteration
    cap or failed line search) are circled in red, and the title gives the number of converged solves."""
    from genprior.figures import pyplot, save_figure

    plt = pyplot()
    from matplotlib import ticker

    table = result["tuning"]["table"]
    chosen = result["chosen"]
    n = result["n_tune"]
    solved = sum(r.get("converged", n) for r in table)
    others = sorted({tuple((k, v) for k, v in row.items() if k in result["grid"] and k != "lam") for row in table})
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.6))
    for key, ax, label in (("psnr", axes[0], "mean PSNR (dB, data range 1)"),
                           ("residual", axes[1], "mean ||A x - y||")):
        for other in others:
            rows = sorted((r for r in table if all(r[k] == v for k, v in other)), key=lambda r: r["lam"])
            name = ", ".join(f"{k}={v:g}" for k, v in other) or result["method"]
            ax.plot([r["lam"] for r in rows], [r[key] for r in rows], marker="o", ms=3, label=name)
        capped = [r for r in table if r.get("converged", n) < n]
        if capped:
            ax.plot([r["lam"] for r in capped], [r[key] for r in capped], marker="o", ms=8, mfc="none",
                    color="red", linestyle="none", label="some solves did not converge")
        best = next(r for r in table if all(r[k] == v for k, v in chosen.items()))
        ax.plot([best["lam"]], [best[key]], marker="*", ms=12, color="black", linestyle="none",
                label=f"chosen ({result['criterion']})")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel("lam")
        ax.set_ylabel(label)
    axes[1].axhline(result["tuning"]["noise_norm"], color="black", lw=1, label="sigma sqrt(m)")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    fig.suptitle(f"{result['method']} on {result.get('problem', '')}: tuning surface ({n} images; "
                 f"{solved} of {n * len(table)} solves converged)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)
