"""Beyond the paper: the tables of Figures 9 and 10 with lam chosen without ground truth.

The discrepancy principle (Morozov) picks the ``lam`` whose mean residual
``||A x - y||`` on the tuning images is closest to the noise level ``sigma sqrt(m)``.
It chooses one parameter, so ``mu`` (relaxed, sparse) is held at the value the finished
Figure 9/10 table chose for the same cell (the experiment reads ``fig9`` and ``fig10``).
Both choices, by the residual and by the best mean PSNR, are made on the same ``lam``
grid: the method's default grid, grown one value past an end (the grid's own ratio)
while either choice sits on it, up to the protocol's ``edge_extensions`` steps per end
and within the parameter's bounds.  Each row gives the test PSNR of both choices, so
the cost of not knowing the truth can be read off.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import Tensor, nn

from genprior.errors import InputError
from genprior.experiments.paper.runner import Context
from genprior.experiments.paper.tables import MNIST_CS, SHAPES_TOMOGRAPHY, TableSetup, split

CHOICES = ("discrepancy", "psnr")  # the two ways of choosing lam, by residual and by PSNR against the truth
SCORES = ("psnr", "residual", "iterations", "converged")
TABLES = ((MNIST_CS, "fig9", "MNIST CS (Figure 9)"), (SHAPES_TOMOGRAPHY, "fig10", "Shapes tomography (Figure 10)"))


def lam_search(physics, y: Tensor, truth: Tensor, method: str, lams: list[float], generator: nn.Module | None,
               sigma: float, extensions: int, **fixed: Any) -> dict[str, Any]:
    """Choose ``lam`` on the tuning images by the discrepancy principle and by PSNR, growing the grid.

    Solves ``lams`` (the other parameters fixed by ``fixed``); while the discrepancy or the
    PSNR choice is the largest or smallest value solved, solves one value further out
    (``lams``' own ratio), at most ``extensions`` times per end and within ``lam``'s bounds.

    Returns:
        :func:`~genprior.choice.tuning.choose`'s output for the discrepancy criterion over
        every value solved, plus ``"lams"`` (descending), ``"extended"`` (values added)
        and ``"edge"`` (``{choice: whether its lam is still an end of "lams"}``).
    """
    from genprior.choice.grids import step_past_edge
    from genprior.choice.tuning import choose, grid_scores, noise_norm

    if len(lams) < 2:
        raise InputError(f"the lam grid needs at least two values to grow, got {lams}")
    target = noise_norm(sigma, y)
    ratio = max(lams) / sorted(lams, reverse=True)[1]
    scores: dict[float, tuple[Tensor, ...]] = {}
    steps, extended = {"up": 0, "down": 0}, []

    def solve(values: list[float]) -> None:
        raw = grid_scores(physics, y, truth, method, {"lam": values}, generator, **fixed)
        for g, point in enumerate(raw["points"]):
            scores[point["lam"]] = tuple(raw[name][g] for name in SCORES)

    def pick() -> dict[str, Any]:
        order = sorted(scores, reverse=True)
        psnr, residual, iterations, converged = (torch.stack([scores[v][i] for v in order]) for i in range(4))
        return choose([{"lam": v} for v in order], psnr, residual, iterations, converged, "discrepancy", target)

    solve(list(lams))
    while True:
        out = pick()
        new = {}
        for lam in (out["best"]["lam"], out["psnr_choice"]["best"]["lam"]):
            value = step_past_edge(method, "lam", list(scores), lam, ratio)
            if value is None:
                continue
            side = "up" if value > lam else "down"
            if steps[side] < extensions:
                new[side] = value
        if not new:
            break
        for side, value in new.items():
            steps[side] += 1
            extended.append(value)
        solve(list(new.values()))
    ends = (max(scores), min(scores))
    return {**out, "lams": sorted(scores, reverse=True), "extended": extended,
            "edge": {"discrepancy": out["best"]["lam"] in ends, "psnr": out["psnr_choice"]["best"]["lam"] in ends}}


def _cell(ctx: Context, setup: TableSetup, kind: str | None, method: str, table_cell: dict[str, Any]) -> dict[str, Any]:
    from genprior.choice.grids import default_grid
    from genprior.experiments.reconstruction import measure, run_reconstruction
    from genprior.physics.problems import make_operator

    started = time.perf_counter()
    tune, test, indices = split(ctx, setup.dataset)
    physics = make_operator(setup.problem, int(test.shape[-1]), **setup.options)
    G = ctx.assets.model(setup.dataset, kind, setup.latent_dim) if kind else None
    held = {name: value for name, value in table_cell["chosen"].items() if name != "lam"}  # mu, from fig9/fig10
    params = {**ctx.protocol.solver_options(method), **held}
    lams = default_grid(method, int(test.shape[-1]))["lam"]
    if ctx.protocol.coarse_values:
        lams = lams[len(lams) // 2 - 1:][:ctx.protocol.coarse_values]
    y = measure(physics, tune, setup.noise, seed=1)
    out = lam_search(physics, y, tune, method, lams, G, setup.noise, ctx.protocol.edge_extensions, **params)
    record = {"method": method, "generator": kind, "held": held, "noise_norm": out["noise_norm"],
              "lams": out["lams"], "extended": out["extended"]}
    for label, point in zip(CHOICES, (out["best"], out["psnr_choice"]["best"])):
        test_record, _ = run_reconstruction(physics, test, indices, method, G, {**params, **point}, noise=setup.noise,
                                            seed=0)
        record[label] = {"chosen": point, "edge": out["edge"][label], "psnr": test_record["psnr"],
                         "converged": test_record["converged"], "n_images": test_record["n_images"]}
    record["seconds"] = round(time.perf_counter() - started, 2)
    return record


def _lam_text(choice: dict[str, Any]) -> str:
    return f"{choice['chosen']['lam']:.3g}" + (" (grid edge)" if choice["edge"] else "")


def _psnr_text(choice: dict[str, Any]) -> str:
    return f"{choice['psnr']['mean']:.2f} ({choice['converged']}/{choice['n_images']})"


def discrepancy(ctx: Context) -> dict[str, Any]:
    sections, results = [], {}
    for setup, table, title in TABLES:
        rows = [(k, m) for k in setup.kinds for m in setup.methods] + [(None, b) for b in setup.baselines]
        tuned = ctx.reads[table]["cells"]
        cells = {}
        for kind, method in rows:
            name = f"{kind}-{method}" if kind else method
            cells[name] = ctx.part(f"{setup.dataset}-{name}", lambda kind=kind, method=method, name=name, setup=setup:
                                   _cell(ctx, setup, kind, method, tuned[name]))
        results[setup.dataset] = cells
        sections += [f"### {title}", "", "| generator | method | held (from the table) | lam (discrepancy) | PSNR | "
                     "lam (PSNR tuning) | PSNR | difference | the table's PSNR |",
                     "|---|---|---|---:|---:|---:|---:|---:|---:|"]
        for name, c in cells.items():
            d, p = c["discrepancy"], c["psnr"]
            held = ", ".join(f"{k}={v:.3g}" for k, v in c["held"].items()) or "-"
            sections.append(f"| {(c['generator'] or '-').upper()} | {c['method']} | {held} | {_lam_text(d)} | "
                            f"{_psnr_text(d)} | {_lam_text(p)} | {_psnr_text(p)} | "
                            f"{d['psnr']['mean'] - p['psnr']['mean']:+.2f} | {tuned[name]['psnr']['mean']:.2f} |")
        sections.append("")
    lines = ["## Beyond the paper: lam by the discrepancy principle (no ground truth)", "",
             f"lam chosen on {ctx.protocol.n_tune} tuning images so that the mean residual ||Ax - y|| is closest to "
             f"sigma sqrt(m), and, for comparison, by the best mean PSNR on the same images; both on the method's "
             f"default lam grid, grown past an end either choice sits on (up to {ctx.protocol.edge_extensions} steps "
             f"per end; a choice still on an end says \"grid edge\"). mu (relaxed, sparse) is held at the value the "
             f"table of Figure 9/10 chose; {ctx.protocol.solving()}. Tested on {ctx.protocol.n_test} images with the "
             "same noise; PSNR in dB "
             "(range 1), converged solves in brackets. The last column is the finished table's cell (two-stage "
             "grid over lam and mu).", ""] + sections
    return {"cells": results, "markdown": "\n".join(lines)}
