"""Random ellipses: a synthetic 128 x 128 stand-in for the fastMRI knee images.

Each image is the sum of ``K`` filled ellipses, ``K`` uniform on ``3..10``, on a black
background, divided by ``max(1, max pixel)`` so it lies in [0, 1].  Coordinates are
``[-1, 1]^2`` with pixel ``(i, j)`` centred at ``x = (j + 0.5) 2 / n - 1``,
``y = 1 - (i + 0.5) 2 / n``.  Per ellipse: centre uniform on ``[-0.6, 0.6]^2``, semi-axes
uniform on ``[0.05, 0.5]``, rotation uniform on ``[0, pi)``, intensity uniform on
``[0.1, 1]``; a pixel is inside when ``(u / a)^2 + (v / b)^2 <= 1`` in the ellipse's
rotated coordinates ``(u, v)``.

All parameters are drawn first (``numpy.random.default_rng``; train and test from two
independent streams of ``SeedSequence(seed)``), then images are rendered in chunks,
vectorised over images, ellipses and pixels (float32), so results do not depend on the chunk size.
Default sizes mirror the authors' knee set: 3,872 train and 800 test images.
"""

from __future__ import annotations

import numpy as np

from genprior.errors import InputError

IMAGE_SIZE = 128
N_ELLIPSES = (3, 10)
CENTRE = 0.6
AXES = (0.05, 0.5)
INTENSITY = (0.1, 1.0)
CHUNK = 16


def ellipse_parameters(n_images: int, rng: np.random.Generator) -> np.ndarray:
    """``[n_images, 10, 6]`` parameters ``(cx, cy, a, b, angle, intensity)``; unused ellipses
    (beyond each image's ``K``) have intensity 0."""
    k_max = N_ELLIPSES[1]
    count = rng.integers(N_ELLIPSES[0], k_max + 1, size=n_images)
    p = np.empty((n_images, k_max, 6))
    p[..., 0:2] = rng.uniform(-CENTRE, CENTRE, size=(n_images, k_max, 2))
    p[..., 2:4] = rng.uniform(*AXES, size=(n_images, k_max, 2))
    p[..., 4] = rng.uniform(0.0, np.pi, size=(n_images, k_max))
    p[..., 5] = rng.uniform(*INTENSITY, size=(n_images, k_max))
    p[..., 5] *= np.arange(k_max)[None, :] < count[:, None]
    return p


def render_ellipses(params: np.ndarray, size: int = IMAGE_SIZE) -> np.ndarray:
    """Images ``[N, 1, size, size]`` float32 in [0, 1] from :func:`ellipse_parameters`."""
    centres = ((np.arange(size) + 0.5) * 2.0 / size - 1.0).astype(np.float32)
    x = centres[None, None, None, :]   # [1, 1, 1, n] (columns)
    y = -centres[None, None, :, None]  # [1, 1, n, 1] (rows, y up)
    out = np.empty((len(params), 1, size, size), dtype=np.float32)
    for start in range(0, len(params), CHUNK):
        p = params[start:start + CHUNK, :, :, None, None].astype(np.float32)  # [c, K, 6, 1, 1]
        cx, cy, a, b, angle, value = (p[:, :, i] for i in range(6))  # each [c, K, 1, 1]
        c, s = np.cos(angle), np.sin(angle)
        dx, dy = x - cx, y - cy  # [c, K, n, n]
        with np.errstate(divide="ignore", invalid="ignore"):  # a zero axis (unused slot) is never inside
            u, v = (dx * c + dy * s) / a, (-dx * s + dy * c) / b
            inside = (u * u + v * v) <= 1.0
        image = (inside * value).sum(1, dtype=np.float64)  # [c, n, n]
        peak = np.maximum(image.reshape(len(image), -1).max(1), 1.0)[:, None, None]
        out[start:start + CHUNK, 0] = image / peak
    return out


def ellipses_dataset(n_train: int = 3872, n_test: int = 800, seed: int = 0,
                     size: int = IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` random-ellipse images ``[N, 1, size, size]`` float32 in [0, 1]."""
    for name, value in (("n_train", n_train), ("n_test", n_test), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise InputError(f"{name} must be an integer >= 0, got {value!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2:
        raise InputError(f"size must be an integer >= 2, got {size!r}")
    train_seq, test_seq = np.random.SeedSequence(seed).spawn(2)
    train = render_ellipses(ellipse_parameters(n_train, np.random.default_rng(train_seq)), size)
    test = render_ellipses(ellipse_parameters(n_test, np.random.default_rng(test_seq)), size)
    return train, test


__all__ = ["IMAGE_SIZE", "ellipse_parameters", "ellipses_dataset", "render_ellipses"]
