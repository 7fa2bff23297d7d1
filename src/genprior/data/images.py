"""A folder of PNG, JPEG or NPY images as a data set of ``[N, 1, n, n]`` images in [0, 1].

Every file with a suffix in :data:`SUFFIXES` (case-insensitive) directly in the folder
is read, in sorted name order, as one grey-level image:

* PNG/JPEG (Pillow): colour images become luma (ITU-R 601-2, Pillow's ``convert("F")``);
  8-bit images have peak value 255, 16-bit images 65535.
* NPY: a 2D array, or 3D with one singleton axis (``(1, H, W)`` or ``(H, W, 1)``);
  loaded without pickles.

Each image is resized to ``size x size`` (a non-square image is first centre-cropped
to a square) by antialiased bilinear interpolation (``torch.nn.functional.interpolate``),
then rescaled to [0, 1]: ``"minmax"`` (default) maps each image's minimum to 0 and its
maximum to 1; ``"range"`` divides integer images by their peak (255 or 65535) and
requires float images to lie in [0, 1] already.  Without ``size``, every image must
already have the same size and be square; a differing one is an error naming the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from genprior.errors import InputError

SUFFIXES = (".png", ".jpg", ".jpeg", ".npy")
RESCALES = ("minmax", "range")


def centre_square(image: np.ndarray) -> np.ndarray:
    """The largest centred square of a 2D array ``[H, W]``."""
    h, w = image.shape
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return image[top:top + s, left:left + s]


def resize_square(images: np.ndarray, size: int) -> np.ndarray:
    """Resize ``[N, s, s]`` arrays to ``[N, size, size]`` (antialiased bilinear), float32."""
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))[:, None]
    if t.shape[-1] != size:
        t = F.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return t[:, 0].numpy()


def rescale_unit(image: np.ndarray, how: str = "minmax", peak: float | None = None, name: str = "image") -> np.ndarray:
    """Rescale one image to [0, 1] (see the module docstring for ``how``)."""
    if how == "minmax":
        lo, hi = float(image.min()), float(image.max())
        return (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
    if how == "range":
        if peak is not None:
            return image / peak
        if image.min() < 0 or image.max() > 1:
            raise InputError(f"{name}: float values in [{image.min():.4g}, {image.max():.4g}] are not in [0, 1]; "
                             "use `rescale=\"minmax\"`")
        return image
    raise InputError(f"unknown rescale {how!r}; choose one of: {', '.join(RESCALES)}")


def read_image(path: str | os.PathLike) -> tuple[np.ndarray, float | None]:
    """One image file as a float64 ``[H, W]`` array and its peak value (``None`` for floats).

    Raises:
        ValueError: the file cannot be decoded or is not a single grey-level image.
    """
    path = Path(path)
    if path.suffix.lower() == ".npy":
        try:
            a = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise InputError(f"{path}: not a readable .npy array ({exc})") from exc
        if a.ndim == 3 and 1 in (a.shape[0], a.shape[-1]):
            a = a.reshape(a.shape[1:] if a.shape[0] == 1 else a.shape[:2])
        if a.ndim != 2 or a.size == 0 or a.dtype.kind not in "biuf":
            raise InputError(f"{path}: expected a 2D numeric array (one grey-level image), got "
                             f"shape {list(a.shape)} of {a.dtype}")
        peak = float(np.iinfo(a.dtype).max) if a.dtype.kind in "iu" else (1.0 if a.dtype.kind == "b" else None)
        a = a.astype(np.float64)
    else:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as im:
                im.load()
                if im.mode.startswith("I;16"):
                    a, peak = np.asarray(im).astype(np.float64), 65535.0
                elif im.mode in ("I", "F"):
                    a, peak = np.asarray(im).astype(np.float64), None
                elif im.mode == "1":
                    a, peak = np.asarray(im).astype(np.float64), 1.0
                else:
                    a, peak = np.asarray(im.convert("F")).astype(np.float64), 255.0
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise InputError(f"{path}: not a readable image ({exc})") from exc
    if not np.isfinite(a).all():
        raise InputError(f"{path}: the image contains NaN or Inf values")
    return a, peak


def list_images(src: str | os.PathLike) -> list[Path]:
    """The image files directly in ``src``, sorted by name.

    Raises:
        FileNotFoundError: ``src`` is not a directory.
        ValueError: it holds no PNG/JPEG/NPY file.
    """
    src = Path(src)
    if not src.is_dir():
        raise FileNotFoundError(f"image folder not found: {src}")
    files = sorted(p for p in src.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise InputError(f"{src}: no image files ({', '.join(SUFFIXES)})")
    return files


def load_image_folder(src: str | os.PathLike, size: int | None = None,
                      rescale: str = "minmax") -> tuple[np.ndarray, list[str]]:
    """All images of ``src`` as float32 ``[N, 1, size, size]`` in [0, 1], and their file names.

    Raises:
        FileNotFoundError: ``src`` is not a directory.
        ValueError: no images, an unreadable file, a bad ``size`` / ``rescale``, or (without
            ``size``) an image whose size differs from the first one's or is not square;
            each message names the file.
    """
    if rescale not in RESCALES:
        raise InputError(f"unknown rescale {rescale!r}; choose one of: {', '.join(RESCALES)}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 2):
        raise InputError(f"size must be an integer >= 2, got {size!r}")
    files = list_images(src)
    out = []
    first: tuple[Path, tuple[int, int]] | None = None
    for path in files:
        a, peak = read_image(path)
        if size is None:
            if first is None:
                first = (path, a.shape)
                if a.shape[0] != a.shape[1]:
                    raise InputError(f"{path}: image is {a.shape[0]}x{a.shape[1]}, not square; pass `size=N` "
                                     "to centre-crop and resize every image")
            elif a.shape != first[1]:
                raise InputError(f"{path}: image is {a.shape[0]}x{a.shape[1]} but {first[0].name} is "
                                 f"{first[1][0]}x{first[1][1]}; images of mixed sizes need `size=N`")
            image = a
        else:
            image = resize_square(centre_square(a)[None], size)[0]
        out.append(np.clip(rescale_unit(image, rescale, peak, str(path)), 0.0, 1.0).astype(np.float32))
    return np.stack(out)[:, None], [p.name for p in files]


def split_train_test(images: np.ndarray, test_fraction: float, seed: int = 0,
                     names: list[str] | None = None):
    """Shuffle (seeded) and split into ``(train, test, train_names, test_names)``.

    ``round(test_fraction * N)`` images go to the test split.
    """
    if not isinstance(test_fraction, (int, float)) or not 0.0 <= test_fraction <= 1.0:
        raise InputError(f"test fraction must be in [0, 1], got {test_fraction!r}")
    n = len(images)
    order = np.random.default_rng(seed).permutation(n)
    n_test = round(test_fraction * n)
    test_idx, train_idx = np.sort(order[:n_test]), np.sort(order[n_test:])
    names = names if names is not None else [str(i) for i in range(n)]
    return (images[train_idx], images[test_idx], [names[i] for i in train_idx], [names[i] for i in test_idx])


__all__ = ["RESCALES", "SUFFIXES", "centre_square", "list_images", "load_image_folder", "read_image",
           "rescale_unit", "resize_square", "split_train_test"]
