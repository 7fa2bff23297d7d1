"""``genprior data ...``: make or convert data sets into the project's ``.npz`` format.

Each data set is one command on :data:`genprior.cli.app.data_app` that builds
``(train, test, meta)`` with the library and hands them to :func:`_write`, which saves
the file (atomically) and prints one summary line.  To add a data set (MNIST, image
folders, fastMRI, ellipses), write a command that does the same; keep the library work
in ``genprior.data.<name>`` and let its ``ValueError`` / ``FileNotFoundError`` reach
:func:`genprior.cli.main`, which prints them as one ``error:`` line (exit status 2).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import typer

from genprior.cli.app import data_app

# Options shared by the generated data sets.
OutOption = typer.Option(..., "--out", "-o", help="Output .npz file (train and test splits).", dir_okay=False)
SeedOption = typer.Option(0, "--seed", help="Random seed; train and test use independent streams.")


def _write(out: Path, train: np.ndarray, test: np.ndarray, meta: dict[str, Any], started: float) -> None:
    """Save ``train`` / ``test`` to ``out`` with ``meta`` (plus the version) and print a summary."""
    from genprior import __version__
    from genprior.data.io import save_dataset

    _check_out(out)
    meta = {**meta, "n_train": int(train.shape[0]), "n_test": int(test.shape[0]),
            "image_size": int(train.shape[-1]), "genprior_version": __version__}
    save_dataset(out, train=train, test=test, meta=meta)
    typer.echo(
        f"wrote {out}: train {list(train.shape)}, test {list(test.shape)} "
        f"({meta['dataset']}) in {time.perf_counter() - started:.1f} s"
    )


def _check_out(out: Path) -> None:
    """Raise ``ValueError`` unless ``out`` names a ``.npz`` file (checked before any work)."""
    if out.suffix != ".npz":
        raise ValueError(f"--out must be a .npz file, got {str(out)!r}")


def _check_counts(**counts: int) -> None:
    """Raise ``ValueError`` naming the option (``--n-test``) whose count is negative."""
    for name, value in counts.items():
        if value < 0:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 0, got {value}")


def _shapes(n: int, n_test: int, seed: int, out: Path, plus: bool) -> None:
    from genprior.data.shapes import shapes_dataset

    _check_out(out)
    _check_counts(n=n, n_test=n_test, seed=seed)
    started = time.perf_counter()
    train, test = shapes_dataset(n, n_test, seed=seed, plus=plus)
    _write(out, train, test, {"dataset": "shapes-plus" if plus else "shapes", "seed": seed}, started)


@data_app.command("shapes")
def shapes(
    n: int = typer.Option(60000, "--n", help="Number of training images (>= 0)."),
    n_test: int = typer.Option(10000, "--n-test", help="Number of test images (>= 0)."),
    seed: int = SeedOption,
    out: Path = OutOption,
) -> None:
    """Shapes: 56x56, one circle and one rectangle of intensity 0.5 that do not touch."""
    _shapes(n, n_test, seed, out, plus=False)


@data_app.command("shapes-plus")
def shapes_plus(
    n: int = typer.Option(60000, "--n", help="Number of training images (>= 0)."),
    n_test: int = typer.Option(10000, "--n-test", help="Number of test images (>= 0)."),
    seed: int = SeedOption,
    out: Path = OutOption,
) -> None:
    """Shapes+: Shapes with a bright spot (radius 2, intensity 1) inside the circle."""
    _shapes(n, n_test, seed, out, plus=True)
