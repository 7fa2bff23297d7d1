"""Figure 12: 128x128 tomography over five noise levels, each method at its per-image best parameters.

On the 128x128 ellipses stand-in for the fastMRI knee images, with the VAE of the paper's
knee architecture (:mod:`.knee_prior`, evaluated in the same section): Tikhonov, hard,
relaxed and sparse at the authors' noise levels ``sigma = 0.2 * 2^-k``, ``k = 0..4``.
As in the paper, the regularisation parameters are chosen per image as the best PSNR
(an "oracle" choice: it needs the truth): ``lam`` for every method and ``mu`` too for
relaxed and sparse, over a grid that :func:`genprior.choice.oracle.oracle_choice` grows
per image past an end (for ``lam`` and ``mu`` together: the product of their values), so
a three-value start around the expected values suffices.  Every method sees the same
noise instance.  Generative solves start from random codes ``z ~ N(0, I)`` (the paper's
start); hard and relaxed are also run from the encoder's codes (:data:`ENCODER_METHODS`),
beside them.  Every solve runs to the stopping rule (relative objective decrease) or the
cap :data:`CAP`, and the section counts, per cell, the solves that reached the cap.

The paper: relaxed is best at every noise level, hard is nearly flat (its error is
dominated by the generator's range, not by the noise), sparse follows Tikhonov's curve a
little below it.  The section shows the paper's left panel (mean PSNR against sigma with
the standard deviation over the images as error bars) beside the example reconstructions.
"""

from __future__ import annotations

from typing import Any

import torch

from genprior.experiments.paper.knee_prior import (  # noqa: F401  (constants: part of the setup)
    KNEE_STEPS,
    PRIOR,
    PRIOR_EVALUATION,
    QUICK_PRIOR,
    prior_card,
    prior_lines,
    prior_model,
    prior_settings,
)
from genprior.experiments.paper.noise_sweep_claims import fig12_claims
from genprior.experiments.paper.runner import Context, pixels

NOISES = tuple(0.2 * 2.0 ** -k for k in range(5))  # the authors' script: 0.2 * 2^-k, k = 0..4
METHODS = ("tikhonov", "hard", "relaxed", "sparse")
ENCODER_METHODS = ("hard", "relaxed")  # also started from the encoder's codes (issue 25: beside the paper's start)
MU_METHODS = ("relaxed", "sparse")  # mu is chosen per image with lam
# Centres of the starting grids at sigma 0.2: lam from the first published run's median choices there (a compact
# VAE; the grid grows past an end per image, so a centre only saves solves); mu from docs/paper/checks (0.01 to
# 0.001 lifted relaxed by 2 to 2.5 dB over 0.1 at sigma 0.1 and 0.025).
START = {"tikhonov": 0.25, "hard": 0.00625, "relaxed": 0.625, "sparse": 0.15625}
MU_START = {"relaxed": 0.01, "sparse": 0.01}
RATIO = 4.0  # between neighbouring values of lam
MU_RATIO = 10.0  # between neighbouring values of mu
N_IMAGES = 50  # the first 50 test images
GRID_EXTENSIONS = 4  # values an image's grid may grow past each end of each parameter
# Iterations at most per solve (every method; the methods' own caps are 1,000 and 3,000).  docs/paper/checks: at
# sigma 0.05 with a cap of 1,000 hard converged on 1 of 8 images, with 5,000 on 6 of 8.
CAP = 5_000
# The solver of hard and relaxed: Figure 12 compares PSNR, not iteration counts, with the paper, so they take the faster
# solver of the same objective ("auto": L-BFGS; relaxed in u coordinates); sparse keeps the paper's Algorithm 3 (its
# l1 term needs a proximal step).  On the figure's problem at sigma 0.0125 and 0.05 L-BFGS converged where Algorithm 1
# ran to its cap (benchmarks/RESULTS.md, bench_fig12_solvers).
SOLVER = "auto"
MAX_BATCH = 150  # problems (grid points x images) per solve: bounds the memory of the 128x128 decoder's backward pass
EXAMPLE = 0  # the test image shown in the examples figure
QUICK = {"n_images": 3, "grid_extensions": 1}  # quick mode (32x32 images; the protocol's cap of 20 iterations)


def grid_extensions(quick: bool) -> int:
    """How many values an image's grid may grow past an end."""
    return QUICK["grid_extensions"] if quick else GRID_EXTENSIONS


def columns() -> list[str]:
    """The table's columns: each method from random codes, then hard and relaxed from the encoder."""
    return [*METHODS, *(f"{m}-encoder" for m in ENCODER_METHODS)]


def cell_key(column: str, sigma: float) -> str:
    return f"{column}-sigma{sigma:g}"


def centre(column: str, i: int, cells: dict[str, dict[str, Any]]) -> dict[str, float]:
    """The centres of ``column``'s starting grids at noise level ``NOISES[i]``: at the first level
    ``START`` (and ``MU_START``); then the previous level's median choices, ``lam`` times
    ``(sigma / sigma_previous)^2`` (the scaling of ``lam`` with the noise variance of a MAP
    estimate, 1/4 here), ``mu`` as it was (it weighs the latent prior against the generator's fit)."""
    method = column.split("-")[0]
    if i == 0:
        return {"lam": START[method], **({"mu": MU_START[method]} if method in MU_METHODS else {})}
    previous = cells[cell_key(column, NOISES[i - 1])]
    median = lambda name: float(torch.tensor(previous[name], dtype=torch.float64).median())  # noqa: E731
    out = {"lam": median("lam") * (NOISES[i] / NOISES[i - 1]) ** 2}
    if method in MU_METHODS:
        out["mu"] = median("mu")
    return out


def fig12(ctx: Context) -> dict[str, Any]:
    from genprior.choice.oracle import oracle_choice
    from genprior.experiments.reconstruction import measure
    from genprior.physics.problems import make_operator

    quick = ctx.assets.quick
    test = ctx.assets.data("ellipses")["test"]
    n = min(QUICK["n_images"] if quick else N_IMAGES, test.shape[0])  # quick: 32x32 images
    truth = test[:n]
    physics = make_operator("tomography", int(truth.shape[-1]))
    extensions = grid_extensions(quick)
    card = prior_card(ctx, n)
    loaded: list = []

    def generator():
        if not loaded:
            loaded.append(prior_model(ctx))
        return loaded[0]

    def cell(column: str, noise: float, middle: dict[str, float]) -> dict[str, Any]:
        method, encoder = column.split("-")[0], column.endswith("-encoder")
        y = measure(physics, truth, noise, seed=0)  # the same noise instance for every method
        ratio = {"lam": RATIO, "mu": MU_RATIO}
        grid = {name: [c * ratio[name], c, c / ratio[name]] for name, c in middle.items()}
        options = ctx.protocol.solver_options(method)
        if "solver" in options:  # hard and relaxed (the protocol's default is the paper's backtracking)
            options["solver"] = SOLVER
        options.setdefault("max_iter", CAP)
        if encoder:
            options["init"] = "encoder"
        out = oracle_choice(physics, y, truth, method, grid, generator() if method != "tikhonov" else None,
                            extensions, max_batch=MAX_BATCH, **options)
        return {**{name: v.tolist() for name, v in out.params.items()}, "psnr": out.psnr.tolist(),
                "converged": int(out.converged.sum()), "iterations": out.iterations.tolist(),
                "cap": options["max_iter"], "on_grid_edge": int(out.on_edge.sum()),
                "edges": {name: int(e.sum()) for name, e in out.edges.items()}, "start_grid": grid,
                "solves": out.solves, "seconds": round(out.seconds, 1),
                "example": pixels(out.x[EXAMPLE, 0].reshape(-1))}

    cells: dict[str, dict[str, Any]] = {}
    for i, s in enumerate(NOISES):
        for column in columns():
            key = cell_key(column, s)
            cells[key] = ctx.part(key, lambda c=column, s=s, m=centre(column, i, cells): cell(c, s, m))
    size = int(truth.shape[-1])
    from genprior.experiments.paper.noise_sweep_figures import examples_figure, psnr_figure

    psnr_figure(cells, ctx.directory / "psnr_vs_sigma.png")
    examples_figure(truth[EXAMPLE, 0], cells, ctx.directory / "noise_levels.png")
    means = {c: [float(torch.tensor(cells[cell_key(c, s)]["psnr"]).mean()) for s in NOISES] for c in columns()}
    lines = _section(ctx, cells, means, card, n, size, extensions)
    claims = fig12_claims(cells, means, card)
    relaxed_best = all(max(METHODS, key=lambda m: means[m][i]) == "relaxed" for i in range(len(NOISES)))
    return {"noises": list(NOISES), "means": means, "relaxed_best_everywhere": relaxed_best,
            "hard_range_db": max(means["hard"]) - min(means["hard"]), "claims": claims, "prior": card,
            "cells": {k: {kk: vv for kk, vv in v.items() if kk != "example"} for k, v in cells.items()},
            "markdown": "\n".join(lines)}


def _entry(c: dict[str, Any], n: int) -> str:
    v = torch.tensor(c["psnr"])
    median = lambda name: float(torch.tensor(c[name]).median())  # noqa: E731
    mu = f"; mu {median('mu'):.2g}" if "mu" in c else ""
    return (f"{v.mean():.2f} +- {v.std(unbiased=False):.2f} ({c['converged']}/{n}; lam {median('lam'):.2g}{mu}; "
            f"edge {c['on_grid_edge']}; {c['solves'] / n:.1f} solves)")


def _section(ctx: Context, cells: dict[str, dict[str, Any]], means: dict[str, list[float]], card: dict[str, Any],
             n: int, size: int, extensions: int) -> list[str]:
    """The report section: the prior, the protocol, the table, the stopping rule, the figures."""
    from genprior.solvers.backtracking import OBJECTIVE_TOL

    quick = ctx.assets.quick
    where = f"{size}x{size} tomography" + (" (quick mode; the full run uses 128x128)" if quick else "")
    d = ctx.directory.name
    cap = next(iter(cells.values()))["cap"]
    lines = [f"## Figure 12: {size}x{size} tomography over five noise levels (per-image best parameters)", "",
             *prior_lines(card, d), "",
             f"**The sweep.** {n} images of the ellipses stand-in (the fastMRI knee images cannot be had here), "
             f"{where}, sigma = 0.2 * 2^-k (k = 0..4), the same noise instance for every method. Per image, the "
             f"parameters with the best PSNR (the paper's oracle): lam for every method, lam and mu together for "
             f"relaxed and sparse, over a grid grown per image: three values of lam a factor {RATIO:g} apart (and "
             f"of mu a factor {MU_RATIO:g} apart), centred at the previous noise level's median choice (lam times "
             f"the noise variance ratio, 1/4), then one value past an end of a parameter while the image's best is "
             f"there (up to {extensions} per end; with mu, the new value at every value of the other parameter). "
             f"Generative solves start from random codes z ~ N(0, I), as the paper's; hard and relaxed also from "
             f"the encoder's codes of a quick least-squares image (the columns marked encoder). Hard and relaxed are "
             f"solved by L-BFGS (solver {SOLVER!r}; the figure compares no iteration counts with the paper), sparse by "
             f"the paper's Algorithm 3. Every solve stops "
             f"when its objective falls by less than {OBJECTIVE_TOL:g} (relative) per iteration, averaged over 10 "
             f"iterations, or at the cap of {cap:,} iterations. Mean +- std PSNR (dB, data range 1); in brackets: "
             "solves converged at the chosen parameters, the median chosen lam (and mu), images whose choice is "
             "still an end of a parameter's values, and solves per image.", "",
             "| sigma | " + " | ".join(c.replace("-encoder", " (encoder)") for c in columns()) + " |",
             "|---:|" + "---:|" * len(columns())]
    for s in NOISES:
        lines.append(f"| {s:g} | " + " | ".join(_entry(cells[cell_key(c, s)], n) for c in columns()) + " |")
    capped = [(k, n - c["converged"], c["cap"]) for k, c in cells.items() if c["converged"] < n]
    if capped:
        stopped = "; ".join(f"{k.replace('-sigma', ' ')} {m}/{n}" for k, m, _ in capped)
        lines += ["", f"**Stopping.** {sum(m for _, m, _ in capped)} of {len(cells) * n} solves at the chosen "
                  f"parameters, in {len(capped)} of {len(cells)} cells, reached the cap of {cap:,} iterations "
                  f"without meeting the stopping rule: their objective still fell by {OBJECTIVE_TOL:g} or more per "
                  f"iteration, and the table's PSNR is the reconstruction at the cap. By cell (column, sigma, "
                  f"solves at the cap): {stopped}."]
    else:
        lines += ["", f"**Stopping.** Every solve at the chosen parameters met the stopping rule before the cap of "
                  f"{cap:,} iterations."]
    relaxed_best = all(max(METHODS, key=lambda m: means[m][i]) == "relaxed" for i in range(len(NOISES)))
    cell_seconds = sum(c["seconds"] for c in cells.values())
    lines += ["", f"The {len(cells)} cells took {cell_seconds:,.0f} s and the prior's report card "
              f"{card['seconds']:,.0f} s (each part's own wall time, whichever sitting computed it; this section's "
              "closing line gives only the last sitting; training the prior not included).", "",
              f"Relaxed best at every noise level: {'yes' if relaxed_best else 'no'} (the paper: yes). Hard's mean "
              f"PSNR varies by {max(means['hard']) - min(means['hard']):.2f} dB across the noise levels (the paper: "
              "nearly flat).", "",
              f"![PSNR against sigma]({d}/psnr_vs_sigma.png) ![noise levels]({d}/noise_levels.png)"]
    return lines


__all__ = ["CAP", "ENCODER_METHODS", "METHODS", "NOISES", "centre", "columns", "fig12", "grid_extensions"]
