"""Figures 9 and 10: every generator x every generative method against TV and Tikhonov.

Figure 9: MNIST compressed sensing (m = 150, sigma 0.05), AE/VAE/GAN with latent 8.
Figure 10: Shapes tomography (125 x 81, sigma 0.1), AE/VAE/GAN with latent 10, plus the
paper's compute-cost paragraph (mean iterations and seconds per method).  Each cell is
tuned on its own images and evaluated on the test images (:mod:`.protocol`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from genprior.errors import InputError
from genprior.experiments.paper.protocol import run_cell
from genprior.experiments.paper.runner import Context, pixels

PAPER_RANGE2_DB = 6.02  # the authors' PSNR used data range 2 for images in [0, 1]


@dataclass(frozen=True)
class TableSetup:
    """One table: data, problem, noise, generators and methods."""

    dataset: str
    problem: str
    options: dict[str, Any]
    noise: float
    latent_dim: int
    example_model: str
    kinds: tuple[str, ...] = ("ae", "vae", "gan")
    methods: tuple[str, ...] = ("hard", "relaxed", "sparse")
    baselines: tuple[str, ...] = ("tv", "tikhonov")


MNIST_CS = TableSetup("mnist", "cs", {"measurements": 150}, 0.05, 8, "vae")
SHAPES_TOMOGRAPHY = TableSetup("shapes", "tomography", {}, 0.1, 10, "ae")
N_EXAMPLES = 6  # reconstructions kept per cell for the examples figure

# What the paper says of each table (Sections 5.2 and 5.3); figure and claims only, no number depends on them.
_SHOWN = {"mnist": 3, "shapes": 5}  # example images in the paper's Figures 9 and 10
_RESIDUAL_RANGE = 0.5  # colour scale of the residual columns, clipped
_MARGIN_DB = 1.0  # "competitive": at most 1 dB below TV; "clearly worse": more than 1 dB below
_COMPETITIVE = {"mnist": ("ae-hard", "vae-hard", "vae-relaxed")}  # others: every AE/VAE cell ("all competitive")
_PAPER_COST = {"mnist": {"tikhonov": (1, 32), "hard": (5, 54), "relaxed": (10, 325)},  # (s at most, mean iterations)
               "shapes": {"tikhonov": (40, 157), "hard": (12, 37), "relaxed": (60, 255)}}
_STOPPING = ("our solves stop when the objective falls by less than 1e-7 (relative) per iteration over 10 iterations, "
             "and relaxed runs in (z, u) coordinates; the paper stops when the iterates change by less than 1e-8 "
             "(relative), relaxed in (z, x) (check: docs/paper/checks/README.md, 'Iterations under the paper's "
             "stopping rule', runs the paper's rule and coordinates on a few images)")


def split(ctx: Context, dataset: str) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """Tuning images (the first ``n_tune`` test images) and test images (the next ``n_test``)."""
    test = ctx.assets.data(dataset)["test"]
    p = ctx.protocol
    if test.shape[0] < p.n_tune + p.n_test:
        raise InputError(f"{dataset} has {test.shape[0]} test images; the protocol needs {p.n_tune + p.n_test}")
    indices = list(range(p.n_tune, p.n_tune + p.n_test))
    return test[: p.n_tune], test[p.n_tune : p.n_tune + p.n_test], indices


def run_table(ctx: Context, setup: TableSetup, figure_title: str) -> dict[str, Any]:
    """Every cell of the table (cached one by one), the example figure and the report section."""
    from genprior.figures import reconstruction_grid
    from genprior.physics.problems import make_operator

    tune, test, indices = split(ctx, setup.dataset)
    physics = make_operator(setup.problem, int(test.shape[-1]), **setup.options)
    cells: dict[str, dict[str, Any]] = {}
    examples: dict[str, torch.Tensor] = {}
    rows = [(kind, m) for kind in setup.kinds for m in setup.methods] + [(None, b) for b in setup.baselines]
    for kind, method in rows:
        key = f"{kind}-{method}" if kind else method

        def compute(kind=kind, method=method):
            G = ctx.assets.model(setup.dataset, kind, setup.latent_dim) if kind else None
            record, x = run_cell(physics, tune, test, indices, method, G, setup.noise, ctx.protocol)
            record["generator"] = kind
            record["examples"] = pixels(x[:N_EXAMPLES].reshape(x[:N_EXAMPLES].shape[0], -1))
            return record

        cells[key] = ctx.part(key, compute)
        examples[key] = torch.tensor(cells[key]["examples"]).reshape(-1, *test.shape[1:])
    shown = example_cells(setup)
    truth = test[: min(examples[shown[0]].shape[0], _SHOWN.get(setup.dataset, N_EXAMPLES))]
    reconstruction_grid(truth, {k: examples[k] for k in shown},
                        {k: torch.tensor(cells[k]["per_image_psnr"][: truth.shape[0]]) for k in shown},
                        ctx.directory / "examples.png", max_images=truth.shape[0], residual_range=_RESIDUAL_RANGE)
    return {"setup": {"dataset": setup.dataset, "problem": setup.problem, "options": setup.options,
                      "noise": setup.noise, "latent_dim": setup.latent_dim},
            "cells": {k: {kk: vv for kk, vv in v.items() if kk != "examples"} for k, v in cells.items()},
            "claims": table_claims(setup, cells, figure_title.split(":")[0]),
            "markdown": table_markdown(ctx, setup, cells, figure_title)}


def example_cells(setup: TableSetup) -> list[str]:
    """The cells of the examples figure: the example generator's first two methods and the first baseline
    (the paper's tables: hard, relaxed and TV)."""
    return [f"{setup.example_model}-{m}" for m in setup.methods[:2]] + list(setup.baselines[:1])


def competitive_claims(figure: str, problem: str, means: dict[str, float], kinds: Sequence[str],
                       named: Sequence[str] | None = None, margin_db: float = _MARGIN_DB) -> list[dict[str, Any]]:
    """Figures 9 and 10: the named AE/VAE cells (default: every AE and VAE cell) competitive with TV
    (each at most ``margin_db`` below it), the GAN clearly worse (its best cell more than
    ``margin_db`` below the best AE/VAE cell).

    Args:
        means: ``"<generator kind>-<method>"`` or ``"tv"`` -> mean PSNR.
        kinds: the generator kinds of the table.  A claim is checked only where the table has
            what it speaks of (an AE or a VAE, and TV; for the second, a GAN too), so a table of
            other kinds gets only the claims that apply to it.
    """
    from genprior.experiments.paper.claims import claim

    ae_vae = [k for k in means if k.split("-")[0] in ("ae", "vae") and k.split("-")[0] in kinds]
    named = [k for k in (named or ae_vae) if k in means]
    if not named or "tv" not in means:
        return []
    tv, worst = means["tv"], min(named, key=means.get)
    names = [f"{k.split('-', 1)[0].upper()} {k.split('-', 1)[1]}" for k in named]
    listed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
    claims = [claim(figure, f"{listed} {'are' if len(names) > 1 else 'is'} competitive with TV on {problem}",
                    f"TV {tv:.2f} dB; " + ", ".join(f"{k} {means[k]:.2f}" for k in named) + f" (competitive: at most "
                    f"{margin_db:g} dB below TV; the lowest {means[worst] - tv:+.2f})", means[worst] >= tv - margin_db)]
    gan = [k for k in means if k.startswith("gan-")]
    if gan and "gan" in kinds:
        best_gan, best = max(gan, key=means.get), max(ae_vae, key=means.get)
        claims.append(claim(figure, f"the GAN prior is clearly worse than AE/VAE on {problem}",
                            f"best GAN {best_gan} {means[best_gan]:.2f} dB against {best} {means[best]:.2f} dB "
                            f"({means[best_gan] - means[best]:+.2f}; clearly: more than {margin_db:g} dB)",
                            means[best_gan] < means[best] - margin_db))
    return claims


def table_claims(setup: TableSetup, cells: dict[str, dict[str, Any]], figure: str) -> list[dict[str, Any]]:
    """The claims of Sections 5.2 and 5.3 this table checks: competitive with TV, the GAN worse, TV's
    strength on MNIST or the clear shapes on Shapes, and the compute cost (iterations, seconds)."""
    from genprior.experiments.paper.claims import claim

    problem = f"{setup.dataset} {setup.problem}"
    means = {k: c["psnr"]["mean"] for k, c in cells.items()}
    claims = competitive_claims(figure, problem, means, setup.kinds, _COMPETITIVE.get(setup.dataset))
    if setup.dataset == "mnist" and "tv" in means:
        best = max(means, key=means.get)
        claims.append(claim(figure, "TV is particularly suitable for the cartoon-like MNIST digits",
                            f"the table's best mean PSNR: {best} {means[best]:.2f} dB (TV {means['tv']:.2f})",
                            best == "tv"))
    if setup.dataset == "shapes" and "tv" in cells and f"{setup.example_model}-hard" in cells:
        mine = [k for k in cells if k.startswith(f"{setup.example_model}-")]
        ssim = {k: cells[k]["ssim"]["mean"] for k in [*mine, "tv"]}
        claims.append(claim(figure, f"the {setup.example_model.upper()} gives clear rectangles and circles, TV "
                                    "unclear outlines and blobs",
                            "mean SSIM " + ", ".join(f"{k} {v:.3f}" for k, v in ssim.items())
                            + f" (clearer: every {setup.example_model.upper()} cell above TV)",
                            all(ssim[k] > ssim["tv"] for k in mine)))
    paper = _PAPER_COST.get(setup.dataset)
    if paper and {"hard", "relaxed"} <= set(setup.methods) and "tikhonov" in cells:
        its = {k: c["iterations"]["mean"] for k, c in cells.items()}
        secs = {k: c["seconds_per_image"] for k, c in cells.items()}
        kinds = setup.kinds
        per_kind = ", ".join(f"{k.upper()} {its[f'{k}-hard']:.0f} / {its[f'{k}-relaxed']:.0f}" for k in kinds)
        claims.append(claim(figure, f"hard needs fewer iterations than relaxed ({paper['hard'][1]} against "
                                    f"{paper['relaxed'][1]})", f"mean iterations hard / relaxed: {per_kind}",
                            all(its[f"{k}-hard"] < its[f"{k}-relaxed"] for k in kinds), cause=_STOPPING))
        fewer = paper["tikhonov"][1] < paper["hard"][1]
        claims.append(claim(figure, f"Tikhonov needs {'fewer' if fewer else 'more'} iterations than hard "
                                    f"({paper['tikhonov'][1]} against {paper['hard'][1]})",
                            f"mean iterations Tikhonov {its['tikhonov']:.0f}, hard " + ", ".join(
                                f"{k.upper()} {its[f'{k}-hard']:.0f}" for k in kinds),
                            all((its["tikhonov"] < its[f"{k}-hard"]) == fewer for k in kinds), cause=_STOPPING))
        order = sorted(("tikhonov", "hard", "relaxed"), key=lambda m: paper[m][0])
        ours = {m: secs[m] if m == "tikhonov" else max(secs[f"{k}-{m}"] for k in kinds) for m in order}
        claims.append(claim(figure, "time per image: " + " < ".join(f"{m} (up to {paper[m][0]:g} s)" for m in order),
                            "seconds per image (slowest generator): " + ", ".join(f"{m} {ours[m]:.3f}" for m in order),
                            all(ours[a] < ours[b] for a, b in zip(order, order[1:])),
                            cause="the order follows the iteration counts (the row above): " + _STOPPING))
    return claims


def chosen_text(cell: dict[str, Any]) -> str:
    """A cell's chosen parameters (``lam=0.625, mu=0.00391``), with the ones still on a grid edge."""
    params = ", ".join(f"{k}={v:.3g}" for k, v in cell["chosen"].items())
    return params + (" (grid edge: " + ", ".join(cell["edge"]) + ")" if cell["edge"] else "")


def table_markdown(ctx: Context, setup: TableSetup, cells: dict[str, dict[str, Any]], title: str) -> str:
    p = ctx.protocol
    lines = [f"## {title}", "",
             f"Protocol: {p.describe()}. PSNR with data range 1 (the paper's range-2 values are "
             f"{PAPER_RANGE2_DB} dB higher).", "",
             f"Tuning PSNR: the mean over the {p.n_tune} tuning images at the chosen parameters (the value the grid "
             f"search maximised); test PSNR: mean +- std over the {p.n_test} test images.", "",
             "| generator | method | parameters | PSNR tuning (dB) | PSNR test (dB) | converged | iterations | s/image "
             "| paper (time, it.) |",
             "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for key, c in cells.items():
        kind, method = c["generator"] or "", c["method"]
        cost = _PAPER_COST.get(setup.dataset, {}).get(method) if kind in ("", "ae") else None  # once per method
        paper = f"up to {cost[0]:g} s, {cost[1]} it." if cost else ""
        lines.append(f"| {kind.upper() or '-'} | {method} | {chosen_text(c)} | {c['tuning']['best_psnr']:.2f} | "
                     f"{c['psnr']['mean']:.2f} +- "
                     f"{c['psnr']['std']:.2f} | {c['converged']}/{c['n_images']} | {c['iterations']['mean']:.0f} | "
                     f"{c['seconds_per_image']:.3f} | {paper} |")
    shown = f"{setup.example_model.upper()} {', '.join(setup.methods[:2])}" + \
        "".join(f" and {b.upper()}" for b in setup.baselines[:1])
    lines += ["", f"![examples: {shown}]({ctx.directory.name}/examples.png)", "",
              f"Examples: the first {min(_SHOWN.get(setup.dataset, N_EXAMPLES), N_EXAMPLES)} test images, each "
              "reconstruction followed by its residual x - truth (blue negative, red positive, colour scale "
              f"+-{_RESIDUAL_RANGE:g}), as in the paper's figure."]
    return "\n".join(lines)


def fig9(ctx: Context) -> dict[str, Any]:
    """Figure 9: MNIST compressed sensing."""
    return run_table(ctx, MNIST_CS, "Figure 9: MNIST compressed sensing (m = 150, sigma 0.05)")


def fig10(ctx: Context) -> dict[str, Any]:
    """Figure 10: Shapes tomography."""
    return run_table(ctx, SHAPES_TOMOGRAPHY, "Figure 10: Shapes tomography (125 x 81, sigma 0.1)")
