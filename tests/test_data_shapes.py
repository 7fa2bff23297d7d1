"""Shapes / Shapes+ generation and the ``genprior data shapes|shapes-plus`` commands."""

from __future__ import annotations

import numpy as np
import pytest

from genprior.data import shapes as S
from genprior.data.shapes import make_shapes, make_shapes_with_params, shapes_dataset

N = 2000
IDX = np.arange(56)


def circle_masks(p: dict, sl=slice(None)) -> np.ndarray:
    ci, cj, r = p["circle_row"][sl], p["circle_col"][sl], p["circle_radius"][sl]
    d2 = (IDX[None, :, None] - ci[:, None, None]) ** 2 + (IDX[None, None, :] - cj[:, None, None]) ** 2
    return d2 <= (r**2)[:, None, None]


def rect_masks(p: dict, sl=slice(None), grow: int = 0) -> np.ndarray:
    r0, c0 = p["rect_row"][sl] - grow, p["rect_col"][sl] - grow
    h, w = p["rect_height"][sl] + 2 * grow, p["rect_width"][sl] + 2 * grow
    rows = (IDX[None, :] >= r0[:, None]) & (IDX[None, :] < (r0 + h)[:, None])
    cols = (IDX[None, :] >= c0[:, None]) & (IDX[None, :] < (c0 + w)[:, None])
    return rows[:, :, None] & cols[:, None, :]


def spot_masks(p: dict, sl=slice(None)) -> np.ndarray:
    d2 = (IDX[None, :, None] - p["spot_row"][sl, None, None]) ** 2 + (
        IDX[None, None, :] - p["spot_col"][sl, None, None]
    ) ** 2
    return d2 <= 4.0


@pytest.fixture(scope="module")
def plain():
    return make_shapes_with_params(N, seed=0)


@pytest.fixture(scope="module")
def plus():
    return make_shapes_with_params(N, seed=0, plus=True)


def test_shape_dtype_values(plain, plus):
    for (images, _), values in ((plain, [0.0, 0.5]), (plus, [0.0, 0.5, 1.0])):
        assert images.shape == (N, 1, 56, 56) and images.dtype == np.float32
        assert np.array_equal(np.unique(images), np.array(values, dtype=np.float32))
        # every image holds both shapes (and, for Shapes+, the spot)
        assert set(np.unique(images[0])) == set(values)


def test_images_match_parameters(plain):
    images, p = plain
    sl = slice(0, 300)
    expected = 0.5 * (circle_masks(p, sl) | rect_masks(p, sl))
    assert np.array_equal(images[sl, 0], expected.astype(np.float32))


def test_one_circle_one_rectangle_components(plain):
    ndimage = pytest.importorskip("scipy.ndimage")
    images, p = plain
    circles, rects = circle_masks(p, slice(0, 200)), rect_masks(p, slice(0, 200))
    for k in range(200):
        # 8-connectivity: shapes that touched diagonally would merge into one component
        labels, count = ndimage.label(images[k, 0] > 0, structure=np.ones((3, 3)))
        assert count == 2
        parts = {frozenset(zip(*np.nonzero(labels == i))) for i in (1, 2)}
        assert parts == {frozenset(zip(*np.nonzero(circles[k]))), frozenset(zip(*np.nonzero(rects[k])))}


def test_shapes_never_touch(plain):
    _, p = plain
    # circle vs the rectangle grown by one pixel (its 8-neighbourhood), on all N images
    assert not (circle_masks(p) & rect_masks(p, grow=1)).any()


def test_touch_check_matches_brute_force():
    raw = S._draw(np.random.default_rng(1), 5000)  # before rejection: some do touch
    brute = (circle_masks(raw) & rect_masks(raw, grow=1)).any(axis=(1, 2))
    assert brute.any() and not brute.all()
    assert np.array_equal(S._touches(raw), brute)


@pytest.mark.parametrize(
    "key, bounds",
    [("circle_row", (28, 41)), ("circle_col", (28, 41)), ("circle_radius", (6, 13)),
     ("rect_row", (0, 13)), ("rect_col", (0, 13)), ("rect_height", (6, 13)), ("rect_width", (6, 13))],
)
def test_parameter_ranges_hit_bounds(plain, key, bounds):
    values = plain[1][key]
    assert np.issubdtype(values.dtype, np.integer) and values.shape == (N,)
    assert (values.min(), values.max()) == bounds


def test_spot_inside_circle(plus):
    images, p = plus
    r = p["circle_radius"]
    assert np.all(np.abs(p["spot_row"] - p["circle_row"]) <= 0.5 * r)
    assert np.all(np.abs(p["spot_col"] - p["circle_col"]) <= 0.5 * r)
    assert (p["spot_row"] % 1 != 0).any()  # continuous centres
    sl = slice(0, 300)
    circles, spots = circle_masks(p, sl), spot_masks(p, sl)
    bright = images[sl, 0] == 1.0
    assert np.array_equal(bright, spots & circles)
    assert bright.any(axis=(1, 2)).all()  # every image has a spot
    assert not (bright & ~circles).any()
    # outside the spot the image is exactly the plain Shapes image of the same parameters
    expected = 0.5 * (circles | rect_masks(p, sl))
    assert np.array_equal(np.where(bright, 0.5, images[sl, 0]), expected.astype(np.float32))


def test_plus_shares_the_plain_shapes(plain, plus):
    for key in plain[1]:
        assert np.array_equal(plain[1][key], plus[1][key])


def test_deterministic_and_seed_dependent(monkeypatch):
    a = make_shapes(50, seed=7)
    assert np.array_equal(a, make_shapes(50, seed=7))
    assert not np.array_equal(a, make_shapes(50, seed=8))
    monkeypatch.setattr(S, "CHUNK", 7)  # the chunk size does not change the result
    assert np.array_equal(a, make_shapes(50, seed=7))
    assert np.array_equal(make_shapes(1, seed=7).shape, (1, 1, 56, 56))


def test_dataset_train_test_independent():
    train, test = shapes_dataset(40, 20, seed=0)
    assert train.shape == (40, 1, 56, 56) and test.shape == (20, 1, 56, 56)
    assert not np.array_equal(test, train[:20])
    assert not any(np.array_equal(t, x) for t in test for x in train)
    again_train, again_test = shapes_dataset(40, 20, seed=0)
    assert np.array_equal(train, again_train) and np.array_equal(test, again_test)
    # the test stream does not depend on the number of training images
    assert np.array_equal(shapes_dataset(5, 20, seed=0)[1], test)
    plus_train, plus_test = shapes_dataset(3, 0, seed=1, plus=True)
    assert plus_train.max() == 1.0 and plus_test.shape == (0, 1, 56, 56)


@pytest.mark.parametrize(
    "call",
    [lambda: make_shapes(0), lambda: make_shapes(-3), lambda: make_shapes(2.5), lambda: make_shapes(True),
     lambda: make_shapes(2, seed=-1), lambda: make_shapes(2, image_size=64),
     lambda: shapes_dataset(-1, 5), lambda: shapes_dataset(0, 0), lambda: shapes_dataset(1, 1, seed=-2)],
)
def test_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


# ----------------------------------------------------------------- command line


def test_cli_writes_loadable_dataset(tmp_path):
    from typer.testing import CliRunner

    from genprior.cli.commands import app
    from genprior.data.io import load_dataset_meta, load_images

    out = tmp_path / "sub" / "shapes.npz"
    result = CliRunner().invoke(app, ["data", "shapes-plus", "--n", "12", "--n-test", "5", "--seed", "3",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.output and "[12, 1, 56, 56]" in result.output
    train, test = load_images(out, "train"), load_images(out, "test")
    assert tuple(train.shape) == (12, 1, 56, 56) and tuple(test.shape) == (5, 1, 56, 56)
    expected_train, expected_test = shapes_dataset(12, 5, seed=3, plus=True)
    assert np.array_equal(train.numpy(), expected_train) and np.array_equal(test.numpy(), expected_test)
    meta = load_dataset_meta(out)
    assert meta["dataset"] == "shapes-plus" and meta["seed"] == 3
    assert (meta["n_train"], meta["n_test"], meta["image_size"]) == (12, 5, 56)
    assert "genprior_version" in meta
    assert sorted(p.name for p in out.parent.iterdir()) == ["shapes.npz"]  # no temp files left


@pytest.mark.parametrize(
    "args, message",
    [(["--n", "-1"], "--n must be >= 0"), (["--n-test", "-2"], "--n-test must be >= 0"),
     (["--n", "0", "--n-test", "0"], "nothing to make")],
)
def test_cli_bad_values_exit_2(tmp_path, capsys, args, message):
    from genprior.cli import main

    out = tmp_path / "x.npz"
    with pytest.raises(SystemExit) as exc:
        main(["data", "shapes", *args, "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_cli_rejects_non_npz_output(tmp_path, capsys):
    from genprior.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["data", "shapes", "--n", "2", "--n-test", "1", "--out", str(tmp_path / "x.txt")])
    assert exc.value.code == 2 and ".npz" in capsys.readouterr().err
