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
import warnings
from dataclasses import dataclass
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


# Bytes per pixel while one image is decoded and converted (the decoded pixels, Pillow's
# float32 copy, the float64 array and a float32 copy for resizing), and per output pixel
# (the float32 images, their stacked copy, the shuffled train/test copies, the saved array).
DECODE_BYTES = 24
OUTPUT_BYTES = 16


@dataclass(frozen=True)
class ImageHeader:
    """What an image file declares before it is decoded: ``height``, ``width`` and how it
    is stored (``"npy"`` with its dtype, or a Pillow mode)."""

    path: Path
    height: int
    width: int
    storage: str

    @property
    def pixels(self) -> int:
        return self.height * self.width


def image_header(path: str | os.PathLike) -> ImageHeader:
    """The size an image file declares, read from its header without decoding the pixels.

    Raises:
        InputError: not a regular file, not a readable image or ``.npy`` array (one with
            Python objects included), not a single grey-level image, or a header that
            declares more pixels than Pillow decodes (a decompression bomb).
    """
    from genprior.data.io import READ_ERRORS, npy_header, numpy_reason
    from genprior.readfiles import open_input

    path = Path(path)
    with open_input(path, "image file") as fh:
        if path.suffix.lower() == ".npy":
            try:
                dtype, shape = npy_header(fh)
            except READ_ERRORS as exc:
                raise InputError(f"{path}: not a readable .npy array ({numpy_reason(exc)})") from None
            if len(shape) == 3 and 1 in (shape[0], shape[-1]):
                shape = shape[1:] if shape[0] == 1 else shape[:2]
            if len(shape) != 2 or 0 in shape or dtype.kind not in "biuf":
                raise InputError(f"{path}: expected a 2D numeric array (one grey-level image), got "
                                 f"shape {list(shape)} of {dtype}")
            return ImageHeader(path, shape[0], shape[1], f"npy {dtype}")
        from PIL import Image, UnidentifiedImageError

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own bound follows
                with Image.open(fh) as im:
                    width, height = im.size
                    mode = im.mode
        except Image.DecompressionBombError as exc:
            raise InputError(f"{path}: the image declares more pixels than Pillow will decode ({exc}); "
                             "a decompression bomb or a far larger image than genprior handles: shrink it first") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise InputError(f"{path}: not a readable image ({exc})") from None
    if width < 1 or height < 1:
        raise InputError(f"{path}: the image declares {width} x {height} pixels")
    return ImageHeader(path, height, width, mode)


def check_decode(header: ImageHeader) -> None:
    """Raise :class:`~genprior.resources.ResourceLimitError` if decoding ``header``'s image needs more
    memory than the limit (:data:`DECODE_BYTES` per pixel)."""
    from genprior.resources import check_memory

    check_memory(float(DECODE_BYTES) * header.pixels, f"decoding {header.path} ({header.width} x {header.height} "
                 "pixels)", "shrink the image first")


def read_image(path: str | os.PathLike) -> tuple[np.ndarray, float | None]:
    """One image file as a float64 ``[H, W]`` array and its peak value (``None`` for floats).

    Its header is checked first (:func:`image_header`, :func:`check_decode`), so a huge or
    forged image is refused before it is decoded.

    Raises:
        InputError: the file cannot be decoded or is not a single grey-level image.
        genprior.resources.ResourceLimitError: decoding it needs more memory than the limit.
    """
    from genprior.data.io import READ_ERRORS, numpy_reason
    from genprior.readfiles import open_input

    path = Path(path)
    header = image_header(path)
    check_decode(header)
    with open_input(path, "image file") as fh:
        if path.suffix.lower() == ".npy":
            try:
                a = np.load(fh, allow_pickle=False)
            except READ_ERRORS as exc:
                raise InputError(f"{path}: not a readable .npy array ({numpy_reason(exc)})") from None
            a = a.reshape(header.height, header.width)
            peak = float(np.iinfo(a.dtype).max) if a.dtype.kind in "iu" else (1.0 if a.dtype.kind == "b" else None)
            a = a.astype(np.float64)
        else:
            from PIL import Image, UnidentifiedImageError

            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # check_decode bounded it
                    with Image.open(fh) as im:
                        im.load()
                        if im.mode.startswith("I;16"):
                            a, peak = np.asarray(im).astype(np.float64), 65535.0
                        elif im.mode in ("I", "F"):
                            a, peak = np.asarray(im).astype(np.float64), None
                        elif im.mode == "1":
                            a, peak = np.asarray(im).astype(np.float64), 1.0
                        else:
                            a, peak = np.asarray(im.convert("F")).astype(np.float64), 255.0
            except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
                raise InputError(f"{path}: not a readable image ({exc})") from None
    if a.ndim != 2:
        raise InputError(f"{path}: expected one grey-level image, got an array of shape {list(a.shape)}")
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

    Every file's header is read first: sizes that do not fit together, and the memory the
    decoding and the output need (:data:`DECODE_BYTES` per decoded pixel of the largest
    image, :data:`OUTPUT_BYTES` per output pixel), are checked before any image is decoded.

    Raises:
        FileNotFoundError: ``src`` is not a directory.
        InputError: no images, an unreadable file, a bad ``size`` / ``rescale``, or (without
            ``size``) an image whose size differs from the first one's or is not square;
            each message names the file.
        genprior.resources.ResourceLimitError: the images need more memory than the limit.
    """
    from genprior.resources import check_memory

    if rescale not in RESCALES:
        raise InputError(f"unknown rescale {rescale!r}; choose one of: {', '.join(RESCALES)}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 2):
        raise InputError(f"size must be an integer >= 2 (the side of the output images), got `size={size!r}`")
    files = list_images(src)
    headers = [image_header(path) for path in files]
    first = headers[0]
    if size is None:
        if first.height != first.width:
            raise InputError(f"{first.path}: image is {first.height}x{first.width}, not square; pass `size=N` "
                             "to centre-crop and resize every image")
        for h in headers[1:]:
            if (h.height, h.width) != (first.height, first.width):
                raise InputError(f"{h.path}: image is {h.height}x{h.width} but {first.path.name} is "
                                 f"{first.height}x{first.width}; images of mixed sizes need `size=N`")
    side = size if size is not None else first.height
    largest = max(headers, key=lambda h: h.pixels)
    check_memory(float(DECODE_BYTES) * largest.pixels + float(OUTPUT_BYTES) * len(files) * side * side,
                 f"{len(files):,} image{'s' if len(files) > 1 else ''} of {side} x {side} (the largest file, {largest.path.name}, "
                 f"{largest.width} x {largest.height} pixels)",
                 "use a smaller `size=`, fewer or smaller images")
    out = []
    for path in files:
        a, peak = read_image(path)
        image = a if size is None else resize_square(centre_square(a)[None], size)[0]
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


__all__ = ["DECODE_BYTES", "ImageHeader", "OUTPUT_BYTES", "RESCALES", "SUFFIXES", "centre_square", "check_decode",
           "image_header", "list_images", "load_image_folder", "read_image", "rescale_unit", "resize_square",
           "split_train_test"]
