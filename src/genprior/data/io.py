"""The project's data-set file: one ``.npz`` with ``train`` and ``test`` image arrays.

Layout: ``train`` and ``test`` are float32 arrays ``[N, 1, H, W]`` with values in
``[0, 1]`` (either may have ``N = 0``), and ``meta`` is a JSON string describing how
the file was made (generator name, seed, sizes).  Optional extra arrays (for example
``train_labels`` / ``test_labels`` of MNIST) may sit beside them; readers that do not
know them ignore them.  Files are written atomically.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genprior.atomic import atomic_path

SPLITS = ("train", "test")


def save_dataset(
    path: str | os.PathLike,
    train: np.ndarray | None = None,
    test: np.ndarray | None = None,
    meta: dict[str, Any] | None = None,
    extras: dict[str, np.ndarray] | None = None,
) -> Path:
    """Write ``train`` / ``test`` images ``[N, 1, H, W]`` in [0, 1] to ``path`` atomically.

    ``extras`` are further named arrays stored as they are (e.g. ``train_labels``);
    their names must not be ``train``, ``test`` or ``meta``.
    """
    arrays = {}
    shape = None
    for split, images in (("train", train), ("test", test)):
        if images is None:
            continue
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[1] != 1:
            raise ValueError(f"{split} images must have shape [N, 1, H, W], got {list(images.shape)}")
        if shape is not None and images.shape[1:] != shape:
            raise ValueError(f"train and test images differ in size: {shape} vs {images.shape[1:]}")
        shape = images.shape[1:]
        arrays[split] = images
    if not arrays:
        raise ValueError("nothing to save: give train and/or test images")
    for split in SPLITS:
        arrays.setdefault(split, np.zeros((0, *shape), dtype=np.float32))
    arrays["meta"] = np.array(json.dumps(meta or {}))
    for name, value in (extras or {}).items():
        if name in arrays or not name.isidentifier():
            raise ValueError(f"extra array name {name!r} is reserved or not an identifier")
        arrays[name] = np.asarray(value)
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)  # mostly-black images compress well
    return Path(path)


def load_dataset_meta(path: str | os.PathLike) -> dict[str, Any]:
    """Return the ``meta`` dictionary stored in a data-set file."""
    with _open_npz(path) as data:
        return json.loads(str(data["meta"])) if "meta" in data.files else {}


def load_images(path: str | os.PathLike, split: str = "test") -> torch.Tensor:
    """Load one split of a data-set file as a float32 tensor ``[N, 1, H, W]``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a genprior data set (corrupt, wrong keys or shape),
            the split is unknown or empty, or the images hold NaN/Inf.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    with _open_npz(path) as data:
        if split not in data.files:
            raise ValueError(f"{path}: no {split!r} array (found {', '.join(data.files)}); "
                             "make data sets with `genprior data`")
        try:
            images = np.asarray(data[split], dtype=np.float32)
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{path}: the {split!r} array cannot be read ({exc}); the file is corrupt") from exc
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"{path}: {split} images must have shape [N, 1, H, W], got {list(images.shape)}")
    if images.shape[0] == 0:
        raise ValueError(f"{path}: the {split!r} split is empty")
    if not np.isfinite(images).all():
        raise ValueError(f"{path}: the {split!r} images contain NaN or Inf values")
    return torch.from_numpy(images)


def load_labels(path: str | os.PathLike, split: str = "test") -> np.ndarray:
    """The ``{split}_labels`` array of a data-set file (MNIST has them); ``ValueError`` if absent."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    with _open_npz(path) as data:
        key = f"{split}_labels"
        if key not in data.files:
            raise ValueError(f"{path}: no {key!r} array; this data set has no labels")
        return np.asarray(data[key])


def parse_indices(spec: str, n: int) -> list[int]:
    """Parse an index selection such as ``"0:100"``, ``"5"``, ``"1,4,9"`` or ``"10:"``.

    Raises ``ValueError`` for malformed specs and indices outside ``[0, n)``.
    """
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        try:
            if ":" in part:
                start_s, _, stop_s = part.partition(":")
                start = int(start_s) if start_s else 0
                stop = int(stop_s) if stop_s else n
                if start < 0 or stop > n or start >= stop:
                    raise IndexError
                out.extend(range(start, stop))
            else:
                i = int(part)
                if not 0 <= i < n:
                    raise IndexError
                out.append(i)
        except ValueError:
            raise ValueError(f"malformed index selection {spec!r}; use e.g. 0:100 or 1,4,9") from None
        except IndexError:
            raise ValueError(f"index selection {part!r} is outside the {n} available images") from None
    return out


class _open_npz:
    """Context manager opening an ``.npz`` with errors that name the file."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __enter__(self):
        if not self.path.exists():
            raise FileNotFoundError(f"data file not found: {self.path}")
        try:
            self.data = np.load(self.path, allow_pickle=False)
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(f"{self.path}: not a readable .npz data set ({exc})") from exc
        if not hasattr(self.data, "files"):
            raise ValueError(f"{self.path}: not an .npz data set (a single array)")
        return self.data

    def __exit__(self, *exc) -> None:
        self.data.close()
