"""Image folders (PNG, JPEG, NPY) -> [N, 1, n, n] in [0, 1]; their errors name the file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from cli_runner import run_cli
from genprior.data.images import load_image_folder, read_image, split_train_test
from genprior.data.io import load_images


@pytest.fixture
def folder(tmp_path):
    """Four 12x12 images: 8-bit grey PNG, RGB PNG, 16-bit PNG, float NPY; and a text file."""
    d = tmp_path / "imgs"
    d.mkdir()
    g = np.random.default_rng(0)
    grey = g.integers(0, 256, (12, 12), dtype=np.uint8)
    Image.fromarray(grey).save(d / "a.png")
    Image.fromarray(g.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(d / "b.PNG")
    Image.fromarray(g.integers(0, 65536, (12, 12), dtype=np.uint16)).save(d / "c.png")
    np.save(d / "d.npy", g.random((12, 12)) * 5 - 1)
    (d / "notes.txt").write_text("not an image")
    return d, grey


def test_folder_reads_every_format_in_name_order(folder):
    d, grey = folder
    images, names = load_image_folder(d)
    assert names == ["a.png", "b.PNG", "c.png", "d.npy"]
    assert images.shape == (4, 1, 12, 12) and images.dtype == np.float32
    mins, maxs = images.reshape(4, -1).min(1), images.reshape(4, -1).max(1)
    np.testing.assert_allclose(mins, 0, atol=1e-7)
    np.testing.assert_allclose(maxs, 1, atol=1e-6)
    expected = (grey - grey.min()) / (grey.max() - grey.min())
    np.testing.assert_allclose(images[0, 0], expected, atol=1e-6)


def test_range_rescale_divides_by_the_peak(folder):
    d, grey = folder
    (d / "d.npy").unlink()
    images, _ = load_image_folder(d, rescale="range")
    np.testing.assert_allclose(images[0, 0], grey / 255.0, atol=1e-6)
    assert read_image(d / "c.png")[1] == 65535.0


def test_range_rescale_refuses_floats_outside_unit_interval(folder):
    d, _ = folder
    with pytest.raises(ValueError, match=r"d\.npy: float values .* not in \[0, 1\]"):
        load_image_folder(d, rescale="range")


def test_resize_and_centre_crop(tmp_path):
    d = tmp_path / "mixed"
    d.mkdir()
    big = np.zeros((40, 60), dtype=np.uint8)
    big[:, 10:50] = 200  # the centred 40x40 square is uniform except its borders
    big[18:22, 28:32] = 255
    Image.fromarray(big).save(d / "wide.png")
    Image.fromarray(np.full((8, 8), 100, dtype=np.uint8)).convert("RGB").save(d / "small.jpg", quality=95)
    images, names = load_image_folder(d, size=20)
    assert images.shape == (2, 1, 20, 20) and names == ["small.jpg", "wide.png"]
    assert images.min() >= 0 and images.max() <= 1
    wide = images[1, 0]
    assert wide.argmax() // 20 in (9, 10) and wide.argmax() % 20 in (9, 10)  # the bright spot stays central


def test_mixed_sizes_without_size_name_the_file(tmp_path):
    d = tmp_path / "mixed"
    d.mkdir()
    np.save(d / "a.npy", np.zeros((8, 8)))
    np.save(d / "b.npy", np.zeros((10, 10)))
    with pytest.raises(ValueError, match=r"b\.npy: image is 10x10 but a\.npy is 8x8; .*`size=N`"):
        load_image_folder(d)
    np.save(d / "a.npy", np.zeros((8, 9)))
    with pytest.raises(ValueError, match=r"a\.npy: image is 8x9, not square"):
        load_image_folder(d)


@pytest.mark.parametrize("name, content, message", [
    ("bad.png", b"not a png", "not a readable image"),
    ("bad.npy", b"garbage", "not a readable .npy array"),
])
def test_unreadable_files_name_the_file(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ValueError, match=f"{name}: {message}"):
        load_image_folder(tmp_path)


def test_npy_of_wrong_shape_or_nan(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match=r"a\.npy: expected a 2D numeric array"):
        load_image_folder(tmp_path)
    x = np.zeros((1, 8, 8))
    x[0, 1, 1] = np.nan
    np.save(tmp_path / "a.npy", x)
    with pytest.raises(ValueError, match=r"a\.npy: the image contains NaN"):
        load_image_folder(tmp_path)


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"image folder not found: {tmp_path / 'nope'}"):
        load_image_folder(tmp_path / "nope")
    with pytest.raises(ValueError, match=f"{tmp_path}: no image files"):
        load_image_folder(tmp_path)


def test_split_is_seeded_and_complete():
    images = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    tr, te, trn, ten = split_train_test(images, 0.3, seed=1, names=[f"{i}" for i in range(10)])
    assert len(te) == 3 and len(tr) == 7 and sorted(trn + ten, key=int) == [str(i) for i in range(10)]
    assert split_train_test(images, 0.3, seed=1)[1].tolist() == te.tolist()
    with pytest.raises(ValueError, match="test fraction"):
        split_train_test(images, 1.5)


def test_cli_folder(folder, tmp_path, capsys):
    d, _ = folder
    out = tmp_path / "f.npz"
    assert run_cli(["data", "folder", "--src", str(d), "--size", "8", "--test-fraction", "0.25", "--out", str(out)]) == 0
    assert load_images(out, "train").shape == (3, 1, 8, 8) and load_images(out, "test").shape == (1, 1, 8, 8)
    data = np.load(out)
    assert sorted([*data["train_files"], *data["test_files"]]) == ["a.png", "b.PNG", "c.png", "d.npy"]
    assert json.loads(str(data["meta"]))["dataset"] == "folder"
    assert run_cli(["data", "folder", "--src", str(tmp_path / "none"), "--out", str(out), "--force"]) == 2
    assert "image folder not found" in capsys.readouterr().err
