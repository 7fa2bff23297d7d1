"""Figure 12: 128x128 tomography over five noise levels, each method at its per-image best lam.

On the 128x128 ellipses stand-in for the fastMRI knee images (or a user's knee file)
with the VAE of the paper's knee architecture sizes (latent 800): Tikhonov, hard,
relaxed and sparse at noise levels a factor 2 apart.  As in the paper, ``lam`` is chosen
per image as the best PSNR over a grid (an "oracle" choice: it needs the truth;
:func:`genprior.choice.oracle.oracle_lam` grows the grid per image past an edge, so a
three-value start around the expected value suffices), ``mu`` is fixed.  The paper:
relaxed is best at every noise level, hard is nearly flat (its error is dominated by the
generator's range, not by the noise), and sparse follows Tikhonov's curve a little below
it.
"""

from __future__ import annotations

from typing import Any

import torch

from genprior.experiments.paper.claims import claim
from genprior.experiments.paper.runner import Context, pixels

NOISES = (0.4, 0.2, 0.1, 0.05, 0.025)
METHODS = ("tikhonov", "hard", "relaxed", "sparse")
START = {"tikhonov": 0.25, "hard": 0.025, "relaxed": 0.625, "sparse": 0.625}  # centres of the grids at sigma 0.4
RATIO = 4.0  # between neighbouring values of lam
MU = 0.1
LATENT = 800
N_IMAGES = 50  # the first 50 test images
GRID_EXTENSIONS = 4  # values an image's grid may grow past an end
QUICK = {"n_images": 3, "latent": 16, "grid_extensions": 1}  # quick mode (32x32 images)
_MU_CHECK = ("mu is held at 0.1 where the paper tuned it per image, and our VAE is weak (issue 25); docs/paper/checks/"
             "README.md, 'Would relaxed do better with another mu?', isolates mu: a smaller mu lifts relaxed to "
             "hard's level on 10 images at sigma 0.1 and 0.025")


def grid_extensions(quick: bool) -> int:
    """How many values an image's grid may grow past an end."""
    return QUICK["grid_extensions"] if quick else GRID_EXTENSIONS


def centre(method: str, i: int, cells: dict[str, dict[str, Any]]) -> float:
    """The centre of ``method``'s starting grid at noise level ``NOISES[i]``: at the first level
    ``START``; then the previous level's median choice times ``(sigma / sigma_previous)^2``, the
    scaling of ``lam`` with the noise variance of a MAP estimate (a factor 1/4 here)."""
    if i == 0:
        return START[method]
    previous = torch.tensor(cells[f"{method}-sigma{NOISES[i - 1]:g}"]["lam"], dtype=torch.float64).median()
    return float(previous) * (NOISES[i] / NOISES[i - 1]) ** 2


def fig12(ctx: Context) -> dict[str, Any]:
    from genprior.choice.oracle import oracle_lam
    from genprior.experiments.reconstruction import measure
    from genprior.figures import pyplot, save_figure
    from genprior.physics.problems import make_operator

    quick = ctx.assets.quick
    test = ctx.assets.data("ellipses")["test"]
    n = min(QUICK["n_images"] if quick else N_IMAGES, test.shape[0])  # quick: 32x32 images
    truth = test[:n]
    physics = make_operator("tomography", int(truth.shape[-1]))
    latent = QUICK["latent"] if quick else LATENT
    extensions = grid_extensions(quick)

    def cell(method: str, noise: float, middle: float) -> dict[str, Any]:
        G = ctx.assets.model("ellipses", "vae", latent)
        y = measure(physics, truth, noise, seed=0)
        lams = [middle * RATIO, middle, middle / RATIO]
        out = oracle_lam(physics, y, truth, method, lams, G if method != "tikhonov" else None, extensions,
                         {"mu": MU} if method in ("relaxed", "sparse") else None, **ctx.protocol.solver_options(method))
        return {"psnr": out.psnr.tolist(), "lam": out.lam.tolist(), "converged": int(out.converged.sum()),
                "iterations": out.iterations.tolist(), "on_grid_edge": int(out.on_edge.sum()),
                "start_grid": lams, "solves": out.solves, "seconds": round(out.seconds, 1),
                "example": pixels(out.x[0, 0].reshape(-1))}

    cells: dict[str, dict[str, Any]] = {}
    for i, s in enumerate(NOISES):
        for m in METHODS:
            middle = centre(m, i, cells)
            cells[f"{m}-sigma{s:g}"] = ctx.part(f"{m}-sigma{s:g}", lambda m=m, s=s, c=middle: cell(m, s, c))
    plt = pyplot()
    size = int(truth.shape[-1])
    fig, axes = plt.subplots(len(NOISES), len(METHODS) + 1, figsize=(1.6 * (len(METHODS) + 1), 1.6 * len(NOISES)))
    for i, s in enumerate(NOISES):
        axes[i, 0].imshow(truth[0, 0].numpy(), cmap="gray", vmin=0, vmax=1)
        axes[i, 0].set_title(f"truth, sigma {s:g}", fontsize=6)
        for j, m in enumerate(METHODS):
            c = cells[f"{m}-sigma{s:g}"]
            axes[i, j + 1].imshow(torch.tensor(c["example"]).reshape(size, size).numpy(), cmap="gray", vmin=0, vmax=1)
            axes[i, j + 1].set_title(f"{m} {c['psnr'][0]:.1f} dB", fontsize=6)
    for a in axes.flat:
        a.axis("off")
    fig.tight_layout()
    save_figure(fig, ctx.directory / "noise_levels.png", dpi=80)  # 1.6 in panels at 80 dpi: 128 pixels, the images' own
    where = f"{size}x{size} tomography" + (" (quick mode; the full run uses 128x128)" if quick else "")
    lines = [f"## Figure 12: {size}x{size} tomography over five noise levels (per-image best lam)", "",
             f"{n} images of the ellipses stand-in (the fastMRI knee images cannot be had here), {where}; "
             f"VAE of latent {latent}; lam per image = best PSNR (the paper's oracle) over a "
             f"grid grown per image: three values a factor {RATIO:g} apart, centred at the previous noise level's "
             f"median choice times the noise variance ratio (1/4), then one value past an end while the image's best "
             f"is there (up to {extensions} times); mu = {MU}. Each solve from random codes and runs to its stopping "
             "rule. Mean +- std PSNR (dB, data range 1); in brackets: solves converged at the chosen lam, the "
             "median chosen lam, images whose choice is still an end of their values, and solves per image.", "",
             "| sigma | " + " | ".join(METHODS) + " |", "|---:|" + "---:|" * len(METHODS)]
    for s in NOISES:
        row = []
        for m in METHODS:
            c = cells[f"{m}-sigma{s:g}"]
            v = torch.tensor(c["psnr"])
            row.append(f"{v.mean():.2f} +- {v.std(unbiased=False):.2f} ({c['converged']}/{n}; lam "
                       f"{float(torch.tensor(c['lam']).median()):.2g}; edge {c['on_grid_edge']}; "
                       f"{c['solves'] / n:.1f} solves)")
        lines.append(f"| {s:g} | " + " | ".join(row) + " |")
    means = {m: [float(torch.tensor(cells[f"{m}-sigma{s:g}"]["psnr"]).mean()) for s in NOISES] for m in METHODS}
    relaxed_best = all(max(means, key=lambda m: means[m][i]) == "relaxed" for i in range(len(NOISES)))
    hard_range = max(means["hard"]) - min(means["hard"])
    cell_seconds = sum(c["seconds"] for c in cells.values())
    lines += ["", f"The {len(cells)} cells took {cell_seconds:,.0f} s (the sum of each cell's own wall time, whichever "
              "sitting computed it; this section's closing line gives only the last sitting).",
              "", f"Relaxed best at every noise level: {'yes' if relaxed_best else 'no'} (the paper: yes). Hard's "
              f"mean PSNR varies by {hard_range:.2f} dB across the noise levels (the paper: nearly flat).", "",
              f"![noise levels]({ctx.directory.name}/noise_levels.png)"]
    claims = fig12_claims(cells, means)
    return {"noises": list(NOISES), "means": means, "relaxed_best_everywhere": relaxed_best,
            "hard_range_db": hard_range, "claims": claims,
            "cells": {k: {kk: vv for kk, vv in v.items() if kk != "example"} for k, v in cells.items()},
            "markdown": "\n".join(lines)}


def fig12_claims(cells: dict[str, dict[str, Any]], means: dict[str, list[float]]) -> list[dict[str, Any]]:
    """Section 5.5 on Figure 12: relaxed best and ahead of Tikhonov with a larger variance, sparse
    below Tikhonov, hard flat, and hard ahead at large noise while relaxed catches up at low noise."""
    import statistics

    stds = {m: [statistics.pstdev(cells[f"{m}-sigma{s:g}"]["psnr"]) for s in NOISES] for m in METHODS}
    ranges = {m: max(v) - min(v) for m, v in means.items()}
    best = [max(means, key=lambda m: means[m][i]) for i in range(len(NOISES))]
    at = lambda values: ", ".join(f"{s:g} {v:+.2f}" for s, v in zip(NOISES, values))  # noqa: E731
    lead = [means["relaxed"][i] - means["tikhonov"][i] for i in range(len(NOISES))]
    wider = [stds["relaxed"][i] - stds["tikhonov"][i] for i in range(len(NOISES))]
    below = [means["sparse"][i] - means["tikhonov"][i] for i in range(len(NOISES))]
    gap = [means["relaxed"][i] - means["hard"][i] for i in range(len(NOISES))]
    return [
        claim("Figure 12", "relaxed gives the best PSNR at every noise level",
              "best at each sigma: " + ", ".join(f"{s:g} {b}" for s, b in zip(NOISES, best)),
              all(b == "relaxed" for b in best), cause=_MU_CHECK),
        claim("Figure 12", "relaxed outperforms Tikhonov", f"relaxed - Tikhonov (dB) at sigma {at(lead)}",
              all(v > 0 for v in lead)),
        claim("Figure 12", "relaxed has a larger variance than Tikhonov",
              f"std of the PSNR over the images, relaxed - Tikhonov (dB) at sigma {at(wider)} (larger: at every "
              "sigma)", all(v > 0 for v in wider),
              cause="the spread is over our ellipses, not the knee images (they cannot be had here); no check "
                    "isolates it"),
        claim("Figure 12", "sparse follows Tikhonov's curve but is worse at every noise level",
              f"sparse - Tikhonov (dB) at sigma {at(below)}", all(v < 0 for v in below),
              cause="sparse is well above Tikhonov on our piecewise-constant ellipses (the paper: the sparse "
                    "deviations do not suit the knee images); mu is held at 0.1 (check: the checks' mu search "
                    "for sparse)"),
        claim("Figure 12", "hard is nearly flat across noise levels (the generator's range, not the noise, limits it)",
              "range of the mean PSNR over the noise levels: " + ", ".join(f"{m} {r:.2f} dB" for m, r in ranges.items())
              + " (flat: the smallest range)", min(ranges, key=ranges.get) == "hard",
              cause="our VAE's range fits the ellipses well enough that hard improves as the noise falls; hard's "
                    "iteration cap at low noise is not the cause (docs/paper/checks/README.md, 'Does hard's iteration "
                    "cap change its numbers?')"),
        claim("Figure 12", "hard does comparatively better at large noise, relaxed captures more fine detail at low "
                           "noise", f"relaxed - hard (dB) at sigma {at(gap)} (as the paper: relaxed gains on hard as "
                                    "the noise falls and is ahead at the lowest)",
              gap[-1] > gap[0] and gap[-1] >= 0, cause=_MU_CHECK)]
