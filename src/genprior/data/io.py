"""The project's data-set file: one ``.npz`` with ``train`` and ``test`` image arrays.

Layout: ``train`` and ``test`` are float32 arrays ``[N, 1, H, W]`` with values in
``[0, 1]`` (either may have ``N = 0``), and ``meta`` is a JSON string describing how
the file was made (generator name, seed, sizes).  Optional extra arrays (for example
``train_labels`` / ``test_labels`` of MNIST) may sit beside them; readers that do not
know them ignore them.  Files are written atomically.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genprior.atomic import atomic_path
from genprior.errors import InputError

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
            raise InputError(f"{split} images must have shape [N, 1, H, W], got {list(images.shape)}")
        if shape is not None and images.shape[1:] != shape:
            raise InputError(f"train and test images differ in size: {shape} vs {images.shape[1:]}")
        shape = images.shape[1:]
        arrays[split] = images
    if not arrays:
        raise InputError("nothing to save: give train and/or test images")
    for split in SPLITS:
        arrays.setdefault(split, np.zeros((0, *shape), dtype=np.float32))
    arrays["meta"] = np.array(json.dumps(meta or {}))
    for name, value in (extras or {}).items():
        if name in arrays or not name.isidentifier():
            raise InputError(f"extra array name {name!r} is reserved or not an identifier")
        arrays[name] = np.asarray(value)
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)  # mostly-black images compress well
    return Path(path)


def load_dataset_meta(path: str | os.PathLike) -> dict[str, Any]:
    """Return the ``meta`` dictionary stored in a data-set file (``{}`` if it has none)."""
    with _open_npz(path) as data:
        if "meta" not in data.files:
            return {}
        try:
            meta = json.loads(str(_read(data, "meta", path)))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: the 'meta' entry is not JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise InputError(f"{path}: the 'meta' entry must be a JSON object, got {type(meta).__name__}")
    return meta


def load_images(path: str | os.PathLike, split: str = "test", rescale: str | None = None) -> torch.Tensor:
    """Load one split of a data-set file as a float32 tensor ``[N, 1, H, W]`` with values in [0, 1].

    The array's header (dtype, shape) is checked before it is read, so a file claiming
    a huge array is refused without allocating it.

    Args:
        path: the ``.npz`` file.
        split: ``"train"`` or ``"test"``.
        rescale: ``None`` (values outside [0, 1] are an error), ``"minmax"`` (map the
            split's smallest value to 0 and largest to 1) or ``"dtype"`` (divide integer
            images by their type's maximum, e.g. 255 for uint8).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a genprior data set (corrupt, wrong keys, dtype or
            shape), the split is unknown or empty, the images hold NaN/Inf or values
            outside [0, 1] (without ``rescale``), or the array is too large for memory.
    """
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    if rescale is not None and rescale not in RESCALE:
        raise InputError(f"unknown rescale {rescale!r}; choose one of: {', '.join(RESCALE)}")
    with _open_npz(path) as data:
        if split not in data.files:
            raise InputError(f"{path}: no {split!r} array (found {', '.join(data.files)}); "
                             "make data sets with `genprior data`")
        dtype, shape = _header(data, split, path)
        if dtype.kind not in "biuf":
            raise InputError(f"{path}: the {split!r} images have dtype {dtype}; images must be numbers "
                             "(float in [0, 1], or integers to rescale)")
        if len(shape) != 4 or shape[1] != 1:
            raise InputError(f"{path}: {split} images must have shape [N, 1, H, W], got {list(shape)}")
        if shape[0] == 0:
            raise InputError(f"{path}: the {split!r} split is empty")
        if min(shape[2:]) < 2:
            raise InputError(f"{path}: {split} images must be at least 2 x 2 pixels, got {list(shape[2:])}")
        from genprior.resources import check_memory

        count = math.prod(shape)
        check_memory(count * (dtype.itemsize + 8), f"the {split!r} split of {path} ({list(shape)}, {dtype})",
                     "use a smaller data file")
        raw = _read(data, split, path)
    images = np.asarray(raw, dtype=np.float32)
    if not np.isfinite(images).all():
        raise InputError(f"{path}: the {split!r} images contain NaN or Inf values")
    images = _to_unit_range(images, raw.dtype, rescale, f"{path}: the {split!r} images")
    return torch.from_numpy(images)


RESCALE = ("minmax", "dtype")
RANGE_TOLERANCE = 1e-5  # float rounding of images computed in [0, 1]


def _to_unit_range(images: np.ndarray, dtype: np.dtype, rescale: str | None, what: str) -> np.ndarray:
    """``images`` checked to lie in [0, 1], or rescaled into it as ``rescale`` asks."""
    lo, hi = float(images.min()), float(images.max())
    if rescale == "dtype":
        if dtype.kind not in "iu":
            raise InputError(f"{what} are {dtype}, not integers: rescale 'dtype' divides integer images by their "
                             "type's maximum; use 'minmax' instead")
        images = images / np.float32(np.iinfo(dtype).max)
        lo, hi = lo / np.iinfo(dtype).max, hi / np.iinfo(dtype).max
    elif rescale == "minmax":
        if hi == lo:
            raise InputError(f"{what} are constant ({lo:g}): min-max rescaling is undefined")
        return ((images - lo) / (hi - lo)).astype(np.float32)
    if lo < -RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
        hint = ("integer images: divide by their type's maximum (load_images(..., rescale='dtype'))"
                if dtype.kind in "iu" else "map them to [0, 1] (load_images(..., rescale='minmax'))")
        raise InputError(f"{what} range from {lo:g} to {hi:g}, outside [0, 1]; genprior's images lie in [0, 1]: "
                         f"{hint}; the command `genprior data rescale` writes a rescaled copy")
    return np.clip(images, 0.0, 1.0, out=images) if lo < 0 or hi > 1 else images


def images_sha256(images: torch.Tensor | np.ndarray) -> str:
    """SHA-256 of an image array's float32 bytes: a content hash that names a training set."""
    array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    return hashlib.sha256(np.ascontiguousarray(array, dtype=np.float32).tobytes()).hexdigest()


def count_duplicates(train: torch.Tensor | np.ndarray, test: torch.Tensor | np.ndarray) -> int:
    """How many ``test`` images are exact copies of some ``train`` image (hashes of their bytes)."""
    def rows(a):
        a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
        a = np.ascontiguousarray(a, dtype=np.float32).reshape(a.shape[0], -1)
        return [hashlib.blake2b(r.tobytes(), digest_size=16).digest() for r in a]

    seen = set(rows(train))
    return sum(h in seen for h in rows(test))


def load_labels(path: str | os.PathLike, split: str = "test") -> np.ndarray:
    """The ``{split}_labels`` array of a data-set file (MNIST has them); ``ValueError`` if absent."""
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    with _open_npz(path) as data:
        key = f"{split}_labels"
        if key not in data.files:
            raise InputError(f"{path}: no {key!r} array; this data set has no labels")
        return np.asarray(_read(data, key, path))


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
            raise InputError(f"malformed index selection {spec!r}; use e.g. 0:100 or 1,4,9") from None
        except IndexError:
            raise InputError(f"index selection {part!r} is outside the {n} available images") from None
    return out


READ_ERRORS = (ValueError, OSError, zipfile.BadZipFile, EOFError, zlib.error, KeyError, NotImplementedError)


def _read(data, name: str, path) -> np.ndarray:
    """Read the array ``name`` of an open ``.npz``; a damaged member is a ``ValueError``."""
    try:
        return data[name]
    except READ_ERRORS as exc:
        raise _unreadable(path, name, exc) from None


def npy_header(fh) -> tuple[np.dtype, tuple[int, ...]]:
    """dtype and shape from the header of the ``.npy`` stream ``fh`` (at its start), reading no data.

    Raises:
        ValueError, OSError, EOFError: not an ``.npy`` header.
    """
    version = np.lib.format.read_magic(fh)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read(fh)
    return np.dtype(dtype), tuple(int(d) for d in shape)


def _header(data, name: str, path) -> tuple[np.dtype, tuple[int, ...]]:
    """dtype and shape of the array ``name`` from its ``.npy`` header, without reading the data."""
    try:
        member = f"{name}.npy" if f"{name}.npy" in data.zip.namelist() else name
        with data.zip.open(member) as fh:
            return npy_header(fh)
    except READ_ERRORS as exc:
        raise _unreadable(path, name, exc) from None


def _unreadable(path, name: str, exc: BaseException) -> InputError:
    reason = numpy_reason(exc)
    if reason != str(exc):
        return InputError(f"{path}: the {name!r} array cannot be read: {reason}")
    return InputError(f"{path}: the {name!r} array cannot be read ({type(exc).__name__}: {exc}); the file is corrupt")


def numpy_reason(exc: BaseException) -> str:
    """Why numpy could not read a file, in words that never suggest unpickling (``allow_pickle``)."""
    text = str(exc)
    if "pickle" in text.lower() or "object arrays" in text.lower():
        return ("it holds Python objects (pickled data), which genprior never loads because loading them can run "
                "code; save plain numeric arrays")
    return text


class _open_npz:
    """Context manager opening an ``.npz`` (a regular file only) with errors that name the file."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def __enter__(self):
        from genprior.readfiles import open_input

        self.fh = open_input(self.path, "data file")
        try:
            self.data = np.load(self.fh, allow_pickle=False)
        except READ_ERRORS as exc:
            self.fh.close()
            raise InputError(f"{self.path}: not a readable .npz data set ({numpy_reason(exc)})") from None
        if not hasattr(self.data, "files"):
            self.fh.close()
            raise InputError(f"{self.path}: not an .npz data set (a single array); make data sets with `genprior data`")
        return self.data

    def __exit__(self, *exc) -> None:
        self.data.close()
        self.fh.close()
