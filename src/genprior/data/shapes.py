"""The Shapes and Shapes+ data sets of the paper (Section 5.1 and the Shapes+ experiment).

Each 56x56 image has a black background, one filled circle and one filled rectangle,
both of intensity 0.5, that neither overlap nor touch.  Pixel ``(i, j)`` has its centre
at the integer point ``(i, j)`` (row, column).

* Circle: centre ``(ci, cj)`` uniform on the integers ``28..41`` per axis, radius ``r``
  uniform on ``6..13``; pixel ``(i, j)`` is in it when ``(i-ci)^2 + (j-cj)^2 <= r^2``.
* Rectangle: top-left corner ``(r0, c0)`` uniform on ``0..13`` per axis, height ``h`` and
  width ``w`` uniform on ``6..13``; it covers rows ``r0..r0+h-1``, cols ``c0..c0+w-1``.
* No circle pixel may lie in, or be 8-neighbour adjacent to, a rectangle pixel; samples
  that break this are redrawn (rejection sampling, all samples at once).
* Shapes+ adds a bright spot (intensity 1.0, set, not added) of radius 2 centred at
  ``circle centre + U(-0.5, 0.5) * r`` per axis (a continuous centre); pixel ``(i, j)``
  is in it when its distance to that centre is <= 2.  The spot is also clipped to the
  circle, a safeguard that guarantees it lies inside (no spill was seen in 20,000 draws).

Only ``image_size=56`` is supported: the parameter ranges are the paper's, fixed in
pixels; other sizes raise ``ValueError``.  Everything is deterministic from the seed
(``numpy.random.default_rng``); parameters are drawn for all images first, then the
images are rendered in chunks, so the result does not depend on the chunk size.
"""

from __future__ import annotations

import numpy as np

from genprior.errors import InputError

IMAGE_SIZE = 56
SHAPE_VALUE = 0.5
SPOT_VALUE = 1.0
SPOT_RADIUS = 2.0
CIRCLE_CENTRE = (28, 41)  # inclusive integer range, each axis
CIRCLE_RADIUS = (6, 13)
RECT_CORNER = (0, 13)
RECT_SIDE = (6, 13)
CHUNK = 5000

Seed = int | np.random.SeedSequence


def _check_count(n: int, name: str, minimum: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {n!r}")
    return int(n)


def _check_size(image_size: int) -> None:
    if image_size != IMAGE_SIZE:
        raise InputError(
            f"Shapes images are {IMAGE_SIZE}x{IMAGE_SIZE} (the paper's fixed pixel ranges); "
            f"image_size={image_size!r} is not supported"
        )


def _rng(seed: Seed) -> np.random.Generator:
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be an integer >= 0, got {seed!r}")
    return np.random.default_rng(int(seed))


def _touches(p: dict[str, np.ndarray]) -> np.ndarray:
    """True where the circle has a pixel inside the rectangle grown by one pixel.

    The grown rectangle (8-neighbourhood) is the integer box ``[r0-1, r0+h] x [c0-1, c0+w]``.
    Its point nearest the (integer) circle centre is an integer pixel, so the disc holds a
    pixel of the box exactly when that nearest point is within the radius.
    """
    ni = np.clip(p["circle_row"], p["rect_row"] - 1, p["rect_row"] + p["rect_height"])
    nj = np.clip(p["circle_col"], p["rect_col"] - 1, p["rect_col"] + p["rect_width"])
    d2 = (ni - p["circle_row"]) ** 2 + (nj - p["circle_col"]) ** 2
    return d2 <= p["circle_radius"] ** 2


def _draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    def uniform(bounds: tuple[int, int]) -> np.ndarray:
        return rng.integers(bounds[0], bounds[1], size=n, endpoint=True, dtype=np.int64)

    return {
        "circle_row": uniform(CIRCLE_CENTRE),
        "circle_col": uniform(CIRCLE_CENTRE),
        "circle_radius": uniform(CIRCLE_RADIUS),
        "rect_row": uniform(RECT_CORNER),
        "rect_col": uniform(RECT_CORNER),
        "rect_height": uniform(RECT_SIDE),
        "rect_width": uniform(RECT_SIDE),
    }


def _draw_params(rng: np.random.Generator, n: int, plus: bool) -> dict[str, np.ndarray]:
    params = _draw(rng, n)
    bad = np.flatnonzero(_touches(params))
    while bad.size:  # redraw the rejected samples until none is left
        fresh = _draw(rng, bad.size)
        for key, values in fresh.items():
            params[key][bad] = values
        bad = bad[_touches({k: v[bad] for k, v in params.items()})]
    if plus:
        r = params["circle_radius"].astype(np.float64)
        params["spot_row"] = params["circle_row"] + rng.uniform(-0.5, 0.5, size=n) * r
        params["spot_col"] = params["circle_col"] + rng.uniform(-0.5, 0.5, size=n) * r
    return params


def _render(p: dict[str, np.ndarray], size: int) -> np.ndarray:
    """Render one chunk of parameters into float32 images ``[n, 1, size, size]``."""
    idx = np.arange(size)
    di2 = (idx[None, :] - p["circle_row"][:, None]) ** 2  # [n, S]
    dj2 = (idx[None, :] - p["circle_col"][:, None]) ** 2  # [n, S]
    circle = di2[:, :, None] + dj2[:, None, :] <= (p["circle_radius"] ** 2)[:, None, None]  # [n, S, S]
    rows = (idx[None, :] >= p["rect_row"][:, None]) & (idx[None, :] < (p["rect_row"] + p["rect_height"])[:, None])
    cols = (idx[None, :] >= p["rect_col"][:, None]) & (idx[None, :] < (p["rect_col"] + p["rect_width"])[:, None])
    images = np.zeros(circle.shape, dtype=np.float32)
    images[circle | (rows[:, :, None] & cols[:, None, :])] = SHAPE_VALUE
    if "spot_row" in p:
        si2 = (idx[None, :] - p["spot_row"][:, None]) ** 2  # [n, S] float
        sj2 = (idx[None, :] - p["spot_col"][:, None]) ** 2
        spot = si2[:, :, None] + sj2[:, None, :] <= SPOT_RADIUS**2
        images[spot & circle] = SPOT_VALUE
    return images[:, None]  # [n, 1, S, S]


def make_shapes_with_params(
    n: int, seed: Seed = 0, image_size: int = IMAGE_SIZE, plus: bool = False
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Make ``n`` Shapes (or Shapes+) images and return them with their parameters.

    Args:
        n: number of images, >= 1.
        seed: integer seed (or a ``numpy.random.SeedSequence``) for ``default_rng``.
        image_size: must be 56.
        plus: add the Shapes+ bright spot inside the circle.

    Returns:
        ``(images, params)``: float32 images ``[n, 1, 56, 56]`` with values in
        ``{0, 0.5}`` (``{0, 0.5, 1}`` with ``plus``), and a dict of length-``n`` arrays:
        int ``circle_row``, ``circle_col``, ``circle_radius``, ``rect_row``, ``rect_col``,
        ``rect_height``, ``rect_width``; with ``plus`` also float ``spot_row``, ``spot_col``.

    Raises:
        ValueError: ``n < 1``, a negative seed, or ``image_size != 56``.
    """
    n = _check_count(n, "n", 1)
    _check_size(image_size)
    params = _draw_params(_rng(seed), n, plus)
    images = np.empty((n, 1, image_size, image_size), dtype=np.float32)
    for start in range(0, n, CHUNK):
        chunk = {k: v[start : start + CHUNK] for k, v in params.items()}
        images[start : start + CHUNK] = _render(chunk, image_size)
    return images, params


def make_shapes(n: int, seed: Seed = 0, image_size: int = IMAGE_SIZE, plus: bool = False) -> np.ndarray:
    """Make ``n`` Shapes (or Shapes+) images, float32 ``[n, 1, 56, 56]`` in [0, 1].

    See :func:`make_shapes_with_params` for the arguments; this drops the parameters.
    """
    return make_shapes_with_params(n, seed=seed, image_size=image_size, plus=plus)[0]


def shapes_dataset(
    n_train: int, n_test: int, seed: int = 0, plus: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Make train and test sets from independent random streams.

    The two streams are ``numpy.random.SeedSequence(seed).spawn(2)``, so the test set is
    never a prefix of the training set.  Either size may be 0 (an empty ``[0, 1, 56, 56]``
    array), but not both.

    Returns:
        ``(train, test)`` float32 arrays ``[n_train, 1, 56, 56]`` and ``[n_test, 1, 56, 56]``.
    """
    n_train = _check_count(n_train, "n_train", 0)
    n_test = _check_count(n_test, "n_test", 0)
    if n_train + n_test == 0:
        raise InputError("n_train and n_test are both 0: nothing to make")
    _rng(seed)  # validate the seed even when a split is empty
    train_seq, test_seq = np.random.SeedSequence(int(seed)).spawn(2)
    empty = np.zeros((0, 1, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    train = make_shapes(n_train, train_seq, plus=plus) if n_train else empty
    test = make_shapes(n_test, test_seq, plus=plus) if n_test else empty.copy()
    return train, test


__all__ = ["IMAGE_SIZE", "make_shapes", "make_shapes_with_params", "shapes_dataset"]
