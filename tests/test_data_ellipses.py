"""Random ellipses: the seeded 128x128 stand-in for the knee images."""

from __future__ import annotations

import numpy as np
import pytest

import genprior.data.ellipses as ell
from genprior.cli import main
from genprior.data.io import load_dataset_meta, load_images


def test_shapes_range_and_seed():
    train, test = ell.ellipses_dataset(6, 3, seed=4)
    assert train.shape == (6, 1, 128, 128) and test.shape == (3, 1, 128, 128) and train.dtype == np.float32
    assert train.min() >= 0 and train.max() <= 1 and (train.reshape(6, -1).max(1) > 0).all()
    again, _ = ell.ellipses_dataset(6, 3, seed=4)
    np.testing.assert_array_equal(train, again)
    other, _ = ell.ellipses_dataset(6, 3, seed=5)
    assert not np.array_equal(train, other)
    assert not np.array_equal(train[:3], test)


def test_result_does_not_depend_on_chunk_size(monkeypatch):
    a, _ = ell.ellipses_dataset(5, 0, seed=1, size=32)
    monkeypatch.setattr(ell, "CHUNK", 2)
    b, _ = ell.ellipses_dataset(5, 0, seed=1, size=32)
    np.testing.assert_array_equal(a, b)


def test_a_single_ellipse_is_rendered_where_the_convention_says():
    # centre (0.5, 0) -> right half; semi-axes 0.25 (x) and 0.1 (y); intensity 0.7
    p = np.zeros((1, 10, 6))
    p[0, 0] = (0.5, 0.0, 0.25, 0.1, 0.0, 0.7)
    img = ell.render_ellipses(p, size=40)[0, 0]
    rows, cols = np.nonzero(img)
    assert set(np.unique(img)) == {0.0, np.float32(0.7)}
    assert cols.min() == 25 and cols.max() == 34  # x in [0.25, 0.75] -> columns 25..34
    assert rows.min() == 18 and rows.max() == 21  # y in [-0.1, 0.1] -> rows 18..21
    p[0, 0, 4] = np.pi / 2  # rotated by 90 degrees: tall instead of wide
    rows, cols = np.nonzero(ell.render_ellipses(p, size=40)[0, 0])
    assert rows.max() - rows.min() > cols.max() - cols.min()


def test_overlaps_are_rescaled_into_the_unit_interval():
    p = np.zeros((1, 10, 6))
    p[0, :2] = (0.0, 0.0, 0.3, 0.3, 0.0, 0.9)
    img = ell.render_ellipses(p, size=16)[0, 0]
    assert img.max() == pytest.approx(1.0)


@pytest.mark.parametrize("kwargs", [{"n_train": -1}, {"seed": -2}, {"size": 1}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        ell.ellipses_dataset(**{"n_train": 1, "n_test": 1, **kwargs})


def test_cli_ellipses(tmp_path, capsys):
    out = tmp_path / "e.npz"
    with pytest.raises(SystemExit) as exc:
        main(["data", "ellipses", "--n", "4", "--n-test", "2", "--size", "32", "--seed", "3", "--out", str(out)])
    assert exc.value.code in (0, None)
    assert load_images(out, "train").shape == (4, 1, 32, 32)
    assert load_dataset_meta(out)["dataset"] == "ellipses"
    with pytest.raises(SystemExit) as exc:
        main(["data", "ellipses", "--n", "-1", "--out", str(out)])
    assert exc.value.code == 2 and "--n must be >= 0" in capsys.readouterr().err
