"""Figures (matplotlib, imported lazily, Agg backend), written atomically as PNG."""

from __future__ import annotations

import os
from pathlib import Path

from torch import Tensor

from genprior.atomic import atomic_path
from genprior.errors import InputError


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no screen needed), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def check_figure_path(path: str | os.PathLike, label: str = "figure") -> Path:
    """Raise :class:`~genprior.errors.InputError` unless matplotlib can write ``path``'s format
    (its suffix; none means PNG): checked before any work, not after the solve."""
    from matplotlib.backend_bases import FigureCanvasBase

    path = Path(path)
    suffix = path.suffix.lstrip(".").lower()
    formats = FigureCanvasBase.get_supported_filetypes()
    if suffix and suffix not in formats:
        raise InputError(f"{label} {path}: matplotlib cannot write {suffix!r} files; use one of: "
                         f"{', '.join(sorted(formats))} (e.g. .png)")
    return path


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Save a matplotlib figure to ``path`` atomically and close it."""
    plt = pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)
    return Path(path)


def reconstruction_grid(
    truth: Tensor,
    columns: dict[str, Tensor],
    psnrs: dict[str, Tensor],
    path: str | os.PathLike,
    max_images: int = 6,
    residual_range: float | None = None,
) -> Path:
    """One row per image: the truth, then each method's reconstruction with its PSNR (dB, range 1).

    Args:
        truth: ``[B, 1, H, W]`` ground truth.
        columns: method name -> reconstructions ``[B, 1, H, W]``.
        psnrs: method name -> per-image PSNR ``[B]``.
        residual_range: if given, each reconstruction is followed by its residual ``x - truth``
            (blue negative, red positive, colour scale ``+-residual_range``, clipped), as in the
            paper's Figures 9 and 10.
    """
    plt = pyplot()
    n = min(max_images, truth.shape[0])
    names = ["truth"] + [f"{name}{suffix}" for name in columns
                         for suffix in (("", " - truth") if residual_range is not None else ("",))]
    fig, axes = plt.subplots(n, len(names), figsize=(1.9 * len(names), 1.9 * n), squeeze=False)
    for r in range(n):
        for c, name in enumerate(names):
            ax = axes[r][c]
            if name.endswith(" - truth"):
                diff = (columns[name[:-len(" - truth")]][r] - truth[r]).detach().cpu().squeeze(0).float()
                ax.imshow(diff.numpy(), cmap="RdBu_r", vmin=-residual_range, vmax=residual_range)
            else:
                img = truth[r] if name == "truth" else columns[name][r]
                ax.imshow(img.detach().cpu().squeeze(0).clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=9)
            if name in columns:
                ax.text(0.03, 0.04, f"{float(psnrs[name][r]):.1f} dB", transform=ax.transAxes,
                        color="yellow", fontsize=7, va="bottom")
    note = "" if residual_range is None else f"; residuals on a colour scale of +-{residual_range:g}"
    fig.text(0.5, 0.0, f"PSNR with data range 1{note}", ha="center", va="top", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def image_grid(images: Tensor, path: str | os.PathLike, ncol: int = 8, title: str | None = None) -> Path:
    """Tile ``images`` ``[B, 1, H, W]`` in a grid of ``ncol`` columns."""
    plt = pyplot()
    b = images.shape[0]
    nrow = (b + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(1.2 * ncol, 1.2 * nrow), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < b:
            ax.imshow(images[k].detach().cpu().squeeze(0).float().clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
    if title:
        fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


