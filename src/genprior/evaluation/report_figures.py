"""Figures of the generator report card (one function per figure, models side by side).

Every function takes ``{model name: data}`` dictionaries, writes one PNG atomically via
:func:`genprior.figures.save_figure` and returns its path.  Matplotlib is
imported lazily.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor

from genprior.figures import pyplot, save_figure

PRIOR_COLOUR, CODE_COLOUR = "tab:blue", "tab:orange"  # the paper's Figure 4 colours


def _show(ax, img: Tensor, vmin: float = 0.0, vmax: float = 1.0, cmap: str = "gray") -> None:
    ax.imshow(img.detach().cpu().float().squeeze(0).numpy(), cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])


def violins(values: dict[str, Tensor], path: str | os.PathLike, ylabel: str, title: str,
            hlines: tuple[float, ...] = (), log: bool = False) -> Path:
    """One violin per model with its median and range marked (the paper's Figure 1 style)."""
    plt = pyplot()
    names = list(values)
    fig, ax = plt.subplots(figsize=(1.2 + 1.4 * len(names), 3.2))
    data = [v.detach().cpu().double().reshape(-1).numpy() for v in values.values()]
    if log:
        data = [d.clip(min=1e-12) for d in data]
        ax.set_yscale("log")
    parts = ax.violinplot(data, showmedians=True, showextrema=True)
    for body in parts["bodies"]:
        body.set_alpha(0.5)
    for y in hlines:
        ax.axhline(y, color="grey", lw=0.6, ls=":")
    ax.set_xticks(range(1, len(names) + 1), names, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def coverage_examples(truth: Tensor, reconstructions: dict[str, Tensor], psnrs: dict[str, Tensor],
                      path: str | os.PathLike, n: int = 8) -> Path:
    """Rows: truth, then for each model ``G(z*)`` (PSNR, data range 1) and the difference ``G(z*) - x``."""
    plt = pyplot()
    n = min(n, truth.shape[0])
    rows = [("truth", None)] + [(m, kind) for m in reconstructions for kind in ("G(z*)", "diff")]
    fig, axes = plt.subplots(len(rows), n, figsize=(1.05 * n + 0.9, 1.05 * len(rows)), squeeze=False)
    for r, (name, kind) in enumerate(rows):
        for c in range(n):
            ax = axes[r][c]
            if kind is None:
                _show(ax, truth[c])
            elif kind == "G(z*)":
                _show(ax, reconstructions[name][c].clamp(0, 1))
                ax.text(0.03, 0.04, f"{float(psnrs[name][c]):.1f}", transform=ax.transAxes, color="yellow",
                        fontsize=6, va="bottom")
            else:
                _show(ax, reconstructions[name][c] - truth[c], -0.5, 0.5, "RdBu_r")
        label = "truth" if kind is None else f"{name}\n{kind}"
        axes[r][0].set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle("A1: test images, their projections G(z*) (PSNR dB, range 1), differences in [-0.5, 0.5]",
                 fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def off_distribution_examples(sets: dict[str, Tensor], fits: dict[str, dict[str, Tensor]],
                              path: str | os.PathLike, per_set: int = 2) -> Path:
    """Columns: ``per_set`` images of each off-distribution set; rows: the images, then each model's fit."""
    plt = pyplot()
    cols = [(s, k) for s in sets for k in range(min(per_set, sets[s].shape[0]))]
    rows = ["image", *fits]
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(1.05 * len(cols) + 0.9, 1.1 * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        for c, (s, k) in enumerate(cols):
            img = sets[s][k] if row == "image" else fits[row][s][k].clamp(0, 1)
            _show(axes[r][c], img)
            if r == 0:
                axes[r][c].set_title(s, fontsize=7)
        axes[r][0].set_ylabel(row, fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle("A2: images not from the data set and their best fits G(z*) (a close fit is bad)", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def emd_bars(emd: dict[str, float], sliced: dict[str, float], path: str | os.PathLike,
             reference: float | None = None, n: int | None = None) -> Path:
    """Exact EMD and ``D * SW_2^2`` per model, with the test-vs-train EMD as a floor."""
    plt = pyplot()
    names = list(emd)
    x = torch.arange(len(names)).numpy()
    fig, ax = plt.subplots(figsize=(1.5 + 1.3 * len(names), 3.0))
    ax.bar(x - 0.2, [emd[m] for m in names], 0.4, label="exact EMD")
    ax.bar(x + 0.2, [sliced[m] for m in names], 0.4, label="D x SW2^2 (sliced)")
    if reference is not None:
        ax.axhline(reference, color="k", ls="--", lw=0.8, label="test vs train (floor)")
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylabel("mean squared distance", fontsize=8)
    ax.set_title("A3: EMD between test images and G(z), z ~ N(0, I)" + (f", N = {n}" if n else ""), fontsize=9)
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return save_figure(fig, path)


def latent_projections(codes: dict[str, Tensor], prior: dict[str, Tensor], path: str | os.PathLike,
                       max_points: int = 2000) -> Path:
    """Rows: models; columns: random 2D projections of found codes (orange) and N(0, I) draws (blue)."""
    plt = pyplot()
    names = list(codes)
    k = codes[names[0]].shape[0]
    fig, axes = plt.subplots(len(names), k, figsize=(2.3 * k + 0.6, 2.3 * len(names)), squeeze=False)
    for r, name in enumerate(names):
        for c in range(k):
            ax = axes[r][c]
            p = prior[name][c][:max_points].numpy()
            q = codes[name][c][:max_points].numpy()
            ax.scatter(p[:, 0], p[:, 1], s=1.5, c=PRIOR_COLOUR, alpha=0.4, lw=0, label="N(0, I)")
            ax.scatter(q[:, 0], q[:, 1], s=1.5, c=CODE_COLOUR, alpha=0.4, lw=0, label="z*(test)")
            ax.set_aspect("equal", "datalim")
            ax.tick_params(labelsize=6)
            if c == 0:
                ax.set_ylabel(name, fontsize=8)
            if r == 0:
                ax.set_title(f"projection {c + 1}", fontsize=8)
    axes[0][-1].legend(fontsize=6, markerscale=5, loc="upper right")
    fig.suptitle("B2: found codes of test images (orange) and N(0, I) samples (blue), random 2D projections",
                 fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def far_from_prior_grid(images: dict[str, Tensor], radii: tuple[float, ...], path: str | os.PathLike) -> Path:
    """For each model, one row per radius ``r sqrt(d)`` of samples ``G(z)``."""
    plt = pyplot()
    names = list(images)
    R, n = images[names[0]].shape[:2]
    fig, axes = plt.subplots(len(names) * R, n, figsize=(0.95 * n + 1.0, 0.95 * R * len(names)), squeeze=False)
    for m, name in enumerate(names):
        for r in range(R):
            for c in range(n):
                _show(axes[m * R + r][c], images[name][r, c].clamp(0, 1))
            axes[m * R + r][0].set_ylabel(f"{name}\n|z| = {radii[r]:g} sqrt(d)", fontsize=6, rotation=0,
                                          ha="right", va="center")
    fig.suptitle("B2: samples G(z) at growing distance from the prior's typical radius sqrt(d)", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def interpolation_grids(grids: dict[str, Tensor], path: str | os.PathLike) -> Path:
    """One ``A x A`` grid per model, side by side; the three found codes are framed (the paper's Figure 6)."""
    plt = pyplot()
    names = list(grids)
    A = grids[names[0]].shape[0]
    fig, axes = plt.subplots(A, len(names) * (A + 1) - 1, figsize=(0.8 * (len(names) * (A + 1) - 1), 0.85 * A),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for m, name in enumerate(names):
        for i in range(A):
            for j in range(A):
                ax = axes[i][m * (A + 1) + j]
                ax.axis("on")
                _show(ax, grids[name][i, j].clamp(0, 1))
                corner = (i, j) in ((0, 0), (A - 1, 0), (0, A - 1))
                for spine in ax.spines.values():
                    spine.set_color("red" if corner else "white")
                    spine.set_linewidth(1.5 if corner else 0.0)
        axes[0][m * (A + 1) + A // 2].set_title(name, fontsize=8)
    fig.suptitle("B1: G(z1 + a1 (z2 - z1) + a2 (z3 - z1)), a1 down, a2 across; framed: codes of test images",
                 fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def memorisation_histograms(gen: dict[str, Tensor], test: Tensor, path: str | os.PathLike,
                            threshold: float | None = None) -> Path:
    """Histograms of nearest-training-image distances: generated samples (per model) against test images."""
    plt = pyplot()
    names = list(gen)
    fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names) + 0.4, 2.5), squeeze=False, sharey=True)
    t = test.double().numpy()
    for c, name in enumerate(names):
        ax = axes[0][c]
        g = gen[name].double().numpy()
        hi = max(float(t.max()), float(g.max()))
        bins = torch.linspace(0, hi * 1.02 + 1e-9, 40).numpy()
        ax.hist(t, bins=bins, alpha=0.5, density=True, label="test -> train")
        ax.hist(g, bins=bins, alpha=0.5, density=True, label="G(z) -> train")
        if threshold is not None:
            ax.axvline(threshold, color="k", lw=0.7, ls=":")
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("distance to nearest training image", fontsize=7)
        ax.tick_params(labelsize=6)
    axes[0][0].legend(fontsize=6)
    fig.suptitle("Memorisation: generated samples should be as far from the training set as unseen test images",
                 fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def digit_histograms(shares: dict[str, list[float]], reference: list[float], path: str | os.PathLike,
                     n: int | None = None, confident: dict[str, float] | None = None) -> Path:
    """Share of samples classified as each digit, per model, beside the test set's and the uniform 1/10;
    ``confident`` (name or ``"test set"`` -> share with p >= 0.9) goes into the legend."""
    plt = pyplot()
    names = list(shares)
    x = torch.arange(10).double().numpy()
    width = 0.8 / (len(names) + 1)
    fig, ax = plt.subplots(figsize=(7.5 + 0.4 * len(names), 2.8))
    conf = confident or {}
    label = lambda name: name + (f" ({100 * conf[name]:.0f}% p >= 0.9)" if name in conf else "")  # noqa: E731
    ax.bar(x - 0.4 + width / 2, reference, width, color="grey", label=label("test set"))
    for k, name in enumerate(names):
        ax.bar(x - 0.4 + (k + 1.5) * width, shares[name], width, label=label(name))
    ax.axhline(0.1, color="k", ls="--", lw=0.7, label="uniform")
    ax.set_xticks(x, [str(d) for d in range(10)], fontsize=8)
    ax.set_xlabel("digit (most probable class of the classifier)", fontsize=8)
    ax.set_ylabel("share of images", fontsize=8)
    ax.set_title("Sample quality: digits of G(z), z ~ N(0, I)" + (f", N = {n}" if n else ""), fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return save_figure(fig, path)
