"""Figure 12's two panels: mean PSNR against sigma with error bars, and the example reconstructions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor


def _label(column: str) -> str:
    return column.replace("-encoder", " (encoder start)")


def psnr_figure(cells: dict[str, dict[str, Any]], path: Path) -> None:
    """The paper's left panel: per method, the mean PSNR over the images against sigma (log axis),
    the standard deviation over the images as error bars; encoder starts dashed."""
    from genprior.experiments.paper.noise_sweep import NOISES, cell_key, columns
    from genprior.figures import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 3.4))
    for k, column in enumerate(columns()):
        values = [torch.tensor(cells[cell_key(column, s)]["psnr"], dtype=torch.float64) for s in NOISES]
        mean = [float(v.mean()) for v in values]
        std = [float(v.std(unbiased=False)) for v in values]
        scale = 1.0 + 0.03 * (k - len(columns()) / 2)  # a small shift along sigma keeps the error bars apart
        ax.errorbar([s * scale for s in NOISES], mean, yerr=std, capsize=2, marker="o", markersize=3,
                    linestyle="--" if column.endswith("-encoder") else "-", label=_label(column))
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(NOISES), [f"{s:g}" for s in NOISES])
    ax.minorticks_off()
    ax.set_xlabel("noise standard deviation sigma")
    ax.set_ylabel("PSNR (dB, data range 1)")
    ax.set_title("mean +- std over the images", fontsize=8)
    ax.legend(fontsize=6)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def examples_figure(truth: Tensor, cells: dict[str, dict[str, Any]], path: Path) -> None:
    """The paper's right panel: one image at every noise level, each column's reconstruction with its PSNR."""
    from genprior.experiments.paper.noise_sweep import EXAMPLE, NOISES, cell_key, columns
    from genprior.figures import pyplot, save_figure

    plt = pyplot()
    size = int(truth.shape[-1])
    shown = columns()
    fig, axes = plt.subplots(len(NOISES), len(shown) + 1, figsize=(1.6 * (len(shown) + 1), 1.6 * len(NOISES)))
    for i, s in enumerate(NOISES):
        axes[i, 0].imshow(truth.numpy(), cmap="gray", vmin=0, vmax=1)
        axes[i, 0].set_title(f"truth, sigma {s:g}", fontsize=6)
        for j, column in enumerate(shown):
            c = cells[cell_key(column, s)]
            image = torch.tensor(c["example"]).reshape(size, size).numpy()
            axes[i, j + 1].imshow(image, cmap="gray", vmin=0, vmax=1)
            axes[i, j + 1].set_title(f"{_label(column)} {c['psnr'][EXAMPLE]:.1f} dB", fontsize=5)
    for a in axes.flat:
        a.axis("off")
    fig.tight_layout()
    save_figure(fig, path, dpi=80)  # 1.6 in panels at 80 dpi: 128 pixels, the images' own


__all__ = ["examples_figure", "psnr_figure"]
