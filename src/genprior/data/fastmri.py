"""fastMRI knee volumes (HDF5) as a data set of 128 x 128 magnitude images in [0, 1].

A fastMRI file ``*.h5`` holds one knee volume; its reconstructions are the dataset
``reconstruction_rss`` (root-sum-of-squares; present in multi-coil and single-coil
files) or ``reconstruction_esc`` (single-coil emulated), of shape ``(slices, H, W)``
(320 x 320 for knees), and the attribute ``acquisition`` (``CORPD_FBK`` = proton
density without fat suppression, ``CORPDFS_FBK`` = with).  As the paper's authors did,
:func:`load_fastmri` keeps ``CORPD_FBK`` volumes only and the slices near the centre
of the knee (default ``12:20``, i.e. slices 12..19, eight per volume), centre-crops each
slice to a square, resizes it to ``size x size`` (antialiased bilinear) and divides it by
its maximum, so every image lies in [0, 1].  The authors' set: 3,872 train and 800
test images.  ``h5py`` is imported only here, when needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genprior.data.images import centre_square, resize_square
from genprior.errors import InputError

KEYS = ("reconstruction_rss", "reconstruction_esc")
DEFAULT_ACQUISITION = "CORPD_FBK"
DEFAULT_SLICES = "12:20"


@dataclass
class FastMRIImages:
    """Images ``[N, 1, size, size]`` float32 in [0, 1], the volume file each came from, the
    slice index, and the files skipped (with the reason)."""

    images: np.ndarray
    files: list[str]
    slices: list[int]
    skipped: dict[str, str] = field(default_factory=dict)


def parse_slices(spec: str) -> tuple[str, int, int]:
    """``"12:20"`` -> ``("range", 12, 20)`` (end exclusive); ``"centre:8"`` -> ``("centre", 8, 0)``:
    the 8 slices around the middle of each volume."""
    head, sep, tail = str(spec).partition(":")
    try:
        if not sep:
            raise InputError
        if head in ("centre", "center"):
            count = int(tail)
            if count < 1:
                raise InputError
            return "centre", count, 0
        start, stop = int(head), int(tail)
        if start < 0 or stop <= start:
            raise InputError
        return "range", start, stop
    except ValueError:
        raise InputError(f"slices must look like 12:20 (start:stop, stop exclusive) or centre:8, got {spec!r}") from None


def _slice_indices(spec: tuple[str, int, int], n_slices: int, path: Path) -> range:
    kind, a, b = spec
    if kind == "centre":
        if a > n_slices:
            raise InputError(f"{path}: has {n_slices} slices, fewer than the {a} central slices asked for")
        start = (n_slices - a) // 2
        return range(start, start + a)
    if b > n_slices:
        raise InputError(f"{path}: has {n_slices} slices, but slices {a}:{b} were asked for")
    return range(a, b)


def list_volumes(src: str | os.PathLike) -> list[Path]:
    """The ``*.h5`` files in ``src`` (sorted).

    Raises:
        FileNotFoundError: ``src`` is not a directory.
        ValueError: it holds no ``.h5`` file.
    """
    src = Path(src)
    if not src.is_dir():
        raise FileNotFoundError(f"fastMRI folder not found: {src}")
    files = sorted(p for p in src.iterdir() if p.is_file() and p.suffix.lower() in (".h5", ".hdf5"))
    if not files:
        raise InputError(f"{src}: no fastMRI .h5 files")
    return files


def read_volume(path: str | os.PathLike, key: str | None = None) -> tuple[np.ndarray, str | None]:
    """The reconstruction array ``(slices, H, W)`` of one file and its ``acquisition`` attribute.

    ``key`` names the dataset; by default ``reconstruction_rss``, else ``reconstruction_esc``.

    Raises:
        ValueError: not an HDF5 file, no such dataset, or not a 3D array; names the file.
    """
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            keys = [key] if key is not None else list(KEYS)
            found = next((k for k in keys if k in f), None)
            if found is None:
                raise InputError(f"{path}: no {' or '.join(repr(k) for k in keys)} dataset "
                                 f"(found: {', '.join(sorted(f.keys())) or 'nothing'})")
            volume = np.asarray(f[found][()])
            acquisition = f.attrs.get("acquisition")
    except OSError as exc:
        raise InputError(f"{path}: not a readable HDF5 file ({exc})") from exc
    if isinstance(acquisition, bytes):
        acquisition = acquisition.decode()
    if volume.ndim != 3 or 0 in volume.shape:
        raise InputError(f"{path}: {found} must have shape (slices, H, W), got {list(volume.shape)}")
    if np.iscomplexobj(volume):
        volume = np.abs(volume)
    if not np.isfinite(volume).all():
        raise InputError(f"{path}: {found} contains NaN or Inf values")
    return volume.astype(np.float64), None if acquisition is None else str(acquisition)


def load_fastmri(src: str | os.PathLike, size: int = 128, slices: str = DEFAULT_SLICES,
                 acquisition: str | None = DEFAULT_ACQUISITION, key: str | None = None) -> FastMRIImages:
    """Slices of every fastMRI volume in ``src`` as ``[N, 1, size, size]`` images in [0, 1].

    Args:
        src: folder of ``.h5`` files.
        size: output side (paper: 128).
        slices: ``"start:stop"`` or ``"centre:K"`` (see :func:`parse_slices`).
        acquisition: keep volumes with this ``acquisition`` attribute only (``None``: all);
            the others are listed in ``skipped``.
        key: dataset name (default: ``reconstruction_rss``, else ``reconstruction_esc``).

    Raises:
        FileNotFoundError / ValueError: see :func:`list_volumes`, :func:`read_volume`;
            also when no volume is left after the acquisition filter.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 2:
        raise InputError(f"size must be an integer >= 2, got {size!r}")
    spec = parse_slices(slices)
    images, files, slice_ids, skipped = [], [], [], {}
    for path in list_volumes(src):
        volume, acq = read_volume(path, key)
        if acquisition is not None and acq != acquisition:
            skipped[path.name] = f"acquisition {acq!r}"
            continue
        idx = list(_slice_indices(spec, volume.shape[0], path))
        square = np.stack([centre_square(volume[i]) for i in idx])
        resized = resize_square(square, size).astype(np.float64)
        peak = resized.reshape(len(idx), -1).max(1).reshape(-1, 1, 1)
        resized = np.where(peak > 0, resized / np.where(peak > 0, peak, 1.0), 0.0)
        images.append(np.clip(resized, 0.0, 1.0).astype(np.float32))
        files.extend([path.name] * len(idx))
        slice_ids.extend(idx)
    if not images:
        raise InputError(f"{src}: no volume with acquisition {acquisition!r} "
                         f"({len(skipped)} skipped); pass `acquisition=\"any\"` to keep all")
    return FastMRIImages(np.concatenate(images)[:, None], files, slice_ids, skipped)


def split_by_volume(data: FastMRIImages, test_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Split whole volumes (never one knee across splits): ``round(test_fraction * volumes)``
    volumes, drawn with ``seed``, form the test split.  Returns ``(train, test,
    train_volumes, test_volumes)``."""
    if not isinstance(test_fraction, (int, float)) or not 0.0 <= test_fraction <= 1.0:
        raise InputError(f"test fraction must be in [0, 1], got {test_fraction!r}")
    volumes = sorted(set(data.files))
    order = np.random.default_rng(seed).permutation(len(volumes))
    test_volumes = sorted(volumes[i] for i in order[:round(test_fraction * len(volumes))])
    is_test = np.isin(np.asarray(data.files), test_volumes)
    train_volumes = [v for v in volumes if v not in set(test_volumes)]
    return data.images[~is_test], data.images[is_test], train_volumes, test_volumes


__all__ = ["DEFAULT_ACQUISITION", "DEFAULT_SLICES", "KEYS", "FastMRIImages", "list_volumes", "load_fastmri",
           "parse_slices", "read_volume", "split_by_volume"]
