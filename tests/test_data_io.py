"""The project's ``.npz`` data-set file: round trip and the errors users see."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genprior.data.io import load_dataset_meta, load_images, parse_indices, save_dataset


def images(n: int, size: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 1, size, size), dtype=np.float32)


def test_round_trip(tmp_path):
    train, test = images(5), images(3, seed=1)
    path = save_dataset(tmp_path / "d.npz", train, test, {"dataset": "x", "seed": 4})
    assert path == tmp_path / "d.npz"
    for split, expected in (("train", train), ("test", test)):
        loaded = load_images(path, split)
        assert isinstance(loaded, torch.Tensor) and loaded.dtype == torch.float32
        assert np.array_equal(loaded.numpy(), expected)
    assert load_dataset_meta(path) == {"dataset": "x", "seed": 4}
    assert [p.name for p in tmp_path.iterdir()] == ["d.npz"]  # the temporary file is gone


def test_missing_split_is_empty(tmp_path):
    path = save_dataset(tmp_path / "d.npz", test=images(2))
    assert load_images(path).shape == (2, 1, 8, 8)  # default split: test
    with pytest.raises(ValueError, match="empty"):
        load_images(path, "train")
    with pytest.raises(ValueError, match="unknown split"):
        load_images(path, "val")


def test_missing_file_names_path(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_images(path)


def test_corrupt_file_names_path(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(np.random.default_rng(0).bytes(2000))
    with pytest.raises(ValueError, match="junk.npz"):
        load_images(path)


def test_single_array_file(tmp_path):
    path = tmp_path / "single.npy"
    np.save(path, images(2))
    with pytest.raises(ValueError, match="single.npy"):
        load_images(path)


def test_wrong_shape_and_keys(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, train=np.zeros((2, 8, 8), np.float32), test=np.zeros((2, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"\[N, 1, H, W\]"):
        load_images(path, "train")
    with pytest.raises(ValueError, match=r"\[2, 3, 8, 8\]"):
        load_images(path, "test")
    other = tmp_path / "other.npz"
    np.savez(other, images=np.zeros((2, 1, 8, 8), np.float32))
    with pytest.raises(ValueError, match="no 'test' array"):
        load_images(other)


def test_nan_rejected(tmp_path):
    bad = images(3)
    bad[1, 0, 2, 2] = np.nan
    path = tmp_path / "nan.npz"
    np.savez(path, train=bad, test=bad)
    with pytest.raises(ValueError, match="NaN"):
        load_images(path, "train")


@pytest.mark.parametrize(
    "kwargs, message",
    [({}, "nothing to save"), ({"train": np.zeros((2, 8, 8))}, "shape"),
     ({"train": images(2, 8), "test": images(2, 6)}, "differ in size")],
)
def test_save_rejects_bad_input(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        save_dataset(tmp_path / "d.npz", **kwargs)
    assert not (tmp_path / "d.npz").exists()


@pytest.mark.parametrize(
    "spec, n, expected",
    [("5", 10, [5]), ("0:3", 10, [0, 1, 2]), ("1,4,9", 10, [1, 4, 9]), ("7:", 10, [7, 8, 9]),
     (":2", 10, [0, 1]), (" 1 , 2:4 ", 10, [1, 2, 3])],
)
def test_parse_indices_valid(spec, n, expected):
    assert parse_indices(spec, n) == expected


@pytest.mark.parametrize(
    "spec, message",
    [("a", "malformed"), ("1:b", "malformed"), ("", "malformed"), ("10", "outside"), ("-1", "outside"),
     ("5:3", "outside"), ("0:11", "outside")],
)
def test_parse_indices_invalid(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_indices(spec, 10)
