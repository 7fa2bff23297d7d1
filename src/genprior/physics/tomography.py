"""2D parallel-beam tomography (the Radon transform) as an exact sparse matrix.

Maths. The ray transform of an image ``f`` is the line integral

    (A f)(theta, s) = integral f(s * d(theta) + l * r(theta)) dl,
    d(theta) = (cos theta, sin theta)   (detector axis),
    r(theta) = (-sin theta, cos theta)  (ray direction),

which is ODL's ``Parallel2dGeometry`` convention: at ``theta = 0`` the rays are vertical
and the detector coordinate ``s`` is the x coordinate.

Discretisation. The image is an ``n x n`` array of unit pixels on ``[-n/2, n/2]^2``;
pixel ``(row i, col j)`` is the square centred at ``x = j - n/2 + 0.5``,
``y = n/2 - 0.5 - i`` (row 0 at the top, y pointing up). ``f`` is piecewise constant,
so one ray (one angle, one detector-bin centre ``s``) gives ``sum_ij a_ij f_ij`` where
``a_ij`` is the exact length of the ray inside pixel ``ij`` (Siddon's method: the ray's
crossings with all pixel boundaries, sorted; consecutive crossings bound a segment whose
midpoint names the pixel; a ray running exactly along a pixel edge, such as the
central ray at ``theta = pi/2``, is shared between the two rows). The matrix rows are rays, angle-major then bin; the columns
are pixels in row-major order. ``A^T`` is stored as its own CSR matrix, because one CSR
product is much faster than a product with a transposed CSR.

The default geometry follows ODL's ``parallel_beam_geometry``: ``rho = (n/2) sqrt 2``,
``omega = pi`` (unit pixels), ``2 ceil(rho) + 1`` bins of equal width on
``[-rho, rho]`` and ``ceil(omega rho)`` angles at the midpoints of a uniform partition of
``[0, pi)``: 125 x 81 at 56 x 56 and 285 x 183 at 128 x 128.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from genprior.errors import InputError
from genprior.physics.operator import LinearOperator

_CHUNK_VALUES = 500_000  # crossings held in memory at once while building a matrix


def _check_count(value: object, name: str, minimum: int) -> int:
    """Return ``value`` as an int, or raise ``ValueError`` unless it is an integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class ParallelBeamGeometry:
    """Parallel-beam acquisition of an ``image_size x image_size`` image of unit pixels.

    Attributes:
        image_size: side ``n`` of the square image (pixels), at least 2.
        n_angles: number of projection angles (``len(angles)``).
        n_bins: number of detector bins, of equal width on
            ``[-detector_half_width, detector_half_width]``; rays go through bin centres.
        angles: projection angles in radians, increasing.
        detector_half_width: half the detector length, in pixel units.
    """

    image_size: int
    n_angles: int
    n_bins: int
    angles: tuple[float, ...]
    detector_half_width: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_size", _check_count(self.image_size, "image_size", 2))
        object.__setattr__(self, "n_bins", _check_count(self.n_bins, "n_bins", 1))
        object.__setattr__(self, "n_angles", _check_count(self.n_angles, "n_angles", 1))
        object.__setattr__(self, "angles", tuple(float(a) for a in self.angles))
        object.__setattr__(self, "detector_half_width", float(self.detector_half_width))
        angles = np.asarray(self.angles, dtype=float)
        if angles.ndim != 1 or len(angles) != self.n_angles:
            raise InputError(f"expected {self.n_angles} angles, got {len(self.angles)}")
        if not np.all(np.isfinite(angles)):
            raise InputError("angles must be finite numbers (no NaN or Inf)")
        if np.any(np.diff(angles) <= 0):
            raise InputError("angles must be strictly increasing")
        width = self.detector_half_width
        if not math.isfinite(width) or width <= 0:
            raise InputError(f"detector_half_width must be finite and > 0, got {width!r}")

    @classmethod
    def default(
        cls,
        image_size: int,
        n_angles: int | None = None,
        n_bins: int | None = None,
        angle_range: tuple[float, float] = (0.0, math.pi),
    ) -> ParallelBeamGeometry:
        """ODL's ``parallel_beam_geometry`` for an ``image_size``-square image.

        Args:
            image_size: side ``n`` of the image.
            n_angles: number of angles; default ``ceil(pi * rho)``, ``rho = n / sqrt 2``.
            n_bins: number of detector bins; default ``2 ceil(rho) + 1``.
            angle_range: ``(start, stop)`` in radians; the angles are the midpoints of
                ``n_angles`` equal cells of this interval.

        Raises:
            ValueError: on a size or count below its minimum, or an empty, reversed or
                non-finite angle range.
        """
        image_size = _check_count(image_size, "image_size", 2)
        start, stop = (float(a) for a in angle_range)
        if not (math.isfinite(start) and math.isfinite(stop)) or stop <= start:
            raise InputError(f"angle_range must be finite with start < stop, got {angle_range!r}")
        rho = image_size / 2 * math.sqrt(2.0)
        omega = math.pi  # pi / pixel size
        n_bins = 2 * math.ceil(rho * omega / math.pi) + 1 if n_bins is None else n_bins
        n_angles = math.ceil(omega * rho) if n_angles is None else n_angles
        n_angles = _check_count(n_angles, "n_angles", 1)
        step = (stop - start) / n_angles
        angles = tuple(start + (k + 0.5) * step for k in range(n_angles))
        return cls(image_size, n_angles, n_bins, angles, rho)

    def with_angles(self, angles: Sequence[float]) -> ParallelBeamGeometry:
        """The same image and detector, measured at ``angles`` only (e.g. sparse view)."""
        angles = tuple(float(a) for a in angles)
        if not angles:
            raise InputError("with_angles needs at least one angle")
        return ParallelBeamGeometry(
            self.image_size, len(angles), self.n_bins, angles, self.detector_half_width
        )

    def bin_centres(self) -> np.ndarray:
        """Detector coordinates ``s`` of the bin centres."""
        w = 2 * self.detector_half_width / self.n_bins
        return -self.detector_half_width + (np.arange(self.n_bins) + 0.5) * w


def _ray_segments(n: int, theta: np.ndarray, s: np.ndarray):
    """Pixel index and intersection length of every segment of rays ``(theta, s)``.

    Returns ``(ray, pixel, length)`` arrays, ``ray`` indexing into ``theta``/``s``.
    """
    c, sn = np.cos(theta)[:, None], np.sin(theta)[:, None]
    bounds = np.arange(n + 1, dtype=float) - n / 2  # boundary lines x = b and y = b
    with np.errstate(divide="ignore", invalid="ignore"):
        # x(l) = s c - l sn, y(l) = s sn + l c; solve x(l) = b and y(l) = b.
        lx = (s[:, None] * c - bounds) / sn
        ly = (bounds - s[:, None] * sn) / c
    crossings = np.concatenate([lx, ly], axis=1)
    crossings[~np.isfinite(crossings)] = np.inf  # rays parallel to a set of lines
    crossings.sort(axis=1, kind="stable")  # two monotonic runs: timsort merges them
    length = np.diff(crossings, axis=1)
    mid = 0.5 * (crossings[:, 1:] + crossings[:, :-1])
    with np.errstate(invalid="ignore"):
        col = np.floor(s[:, None] * c - mid * sn + n / 2)
        row = np.floor(n / 2 - (s[:, None] * sn + mid * c))
        keep = np.isfinite(length) & (length > 1e-12)
        keep &= (col >= 0) & (col < n) & (row >= 0) & (row < n)
    ray = np.nonzero(keep)[0]
    pixel = row[keep].astype(np.int64) * n + col[keep].astype(np.int64)
    return ray, pixel, length[keep]


def _to_csr(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int]):
    """torch CSR matrix from COO triplets sorted by row, then column, without duplicates.

    The index arrays are int32 when every index fits (always, for the image sizes of this
    library): torch's CPU product goes through MKL's sparse BLAS, which takes 32-bit indices
    and would otherwise convert int64 ones on every call (1.1-1.9x the time per product,
    bit-identical results: benchmarks/bench_csr_indices.py).
    """
    index = np.int32 if max(len(vals), *shape) < np.iinfo(np.int32).max else np.int64
    crow = np.zeros(shape[0] + 1, dtype=index)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=crow[1:])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            torch.from_numpy(crow),
            torch.from_numpy(np.ascontiguousarray(cols, dtype=index)),
            torch.from_numpy(vals),
            size=shape,
            check_invariants=True,
        )


@functools.lru_cache(maxsize=8)
def system_matrices(geometry: ParallelBeamGeometry) -> tuple[Tensor, Tensor]:
    """Exact ray-length matrix ``A`` (rays x pixels) and ``A^T``, float32 CSR, cached."""
    n, n_bins = geometry.image_size, geometry.n_bins
    theta = np.repeat(np.asarray(geometry.angles), n_bins)
    s = np.tile(geometry.bin_centres(), geometry.n_angles)
    chunk = max(1, _CHUNK_VALUES // (2 * n + 2))
    rows, cols, vals = [], [], []
    for start in range(0, len(theta), chunk):
        part = slice(start, start + chunk)
        ray, pixel, length = _ray_segments(n, theta[part], s[part])
        rows.append(ray + start)
        cols.append(pixel)
        vals.append(length.astype(np.float32))
    rows, cols, vals = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    n_rays, n_pixels = len(theta), n * n
    # Stable sorts: pixels along a ray are monotonic runs (timsort merges them), and the
    # transpose sorts small integers (radix sort) while keeping the ray order per pixel.
    order = np.argsort(rows * n_pixels + cols, kind="stable")
    rows, cols, vals = rows[order], cols[order], vals[order]
    key = cols.astype(np.uint16) if n_pixels <= 2**16 else cols
    order = np.argsort(key, kind="stable")
    matrix_t = _to_csr(cols[order], rows[order], vals[order], (n_pixels, n_rays))
    return _to_csr(rows, cols, vals, (n_rays, n_pixels)), matrix_t


_NORMS: dict[ParallelBeamGeometry, float] = {}  # ||A|| of the unscaled matrix, per geometry


class Tomography(LinearOperator):
    """Parallel-beam ray transform ``[B, 1, n, n] -> [B, 1, n_angles, n_bins]``.

    Args:
        image_size: side ``n`` of the square image.
        n_angles: number of angles (default: ODL's, 125 at ``n = 56``).
        n_bins: number of detector bins (default: ODL's, 81 at ``n = 56``).
        angle_range: ``(start, stop)`` in radians; angles are cell midpoints.
        angles: explicit angles in radians (overrides ``n_angles`` / ``angle_range``).
        normalise: divide by ``||A||`` so that the operator has norm 1.
        geometry: a complete geometry (overrides every other geometry argument).

    The matrix and its norm are built once per geometry and cached in memory, so a
    second operator of the same geometry costs nothing.
    """

    def __init__(
        self,
        image_size: int = 56,
        n_angles: int | None = None,
        n_bins: int | None = None,
        angle_range: tuple[float, float] = (0.0, math.pi),
        angles: Sequence[float] | None = None,
        normalise: bool = True,
        *,
        geometry: ParallelBeamGeometry | None = None,
    ) -> None:
        if geometry is None:
            geometry = ParallelBeamGeometry.default(image_size, n_angles, n_bins, angle_range)
            if angles is not None:
                if n_angles is not None and n_angles != len(angles):
                    raise InputError(f"n_angles={n_angles} but {len(angles)} angles given")
                geometry = geometry.with_angles(angles)
        n = geometry.image_size
        self.geometry = geometry
        super().__init__((1, n, n), (1, geometry.n_angles, geometry.n_bins))
        matrix, matrix_t = system_matrices(geometry)
        self.register_buffer("matrix", matrix, persistent=False)
        self.register_buffer("matrix_t", matrix_t, persistent=False)
        if normalise:
            if geometry not in _NORMS:  # in float64: float32 rounding can stall tol=1e-7
                _NORMS[geometry] = Tomography.from_geometry(geometry, False).double().norm()
            self.scale = 1.0 / _NORMS[geometry]

    @classmethod
    def from_geometry(cls, geometry: ParallelBeamGeometry, normalise: bool = True) -> Tomography:
        """Operator for an explicit :class:`ParallelBeamGeometry`."""
        return cls(normalise=normalise, geometry=geometry)

    @classmethod
    def sparse_view(
        cls, image_size: int, n_angles_kept: int, seed: int = 0, normalise: bool = True
    ) -> Tomography:
        """Keep ``n_angles_kept`` of the default angles, drawn at random (seeded), sorted."""
        full = ParallelBeamGeometry.default(image_size)
        kept = _check_count(n_angles_kept, "n_angles_kept", 1)
        if kept > full.n_angles:
            raise InputError(f"n_angles_kept must be <= {full.n_angles}, got {kept}")
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(full.n_angles, kept, replace=False))
        return cls.from_geometry(full.with_angles([full.angles[k] for k in keep]), normalise)

    @classmethod
    def limited_angle(
        cls,
        image_size: int,
        angle_range: tuple[float, float],
        n_angles: int | None = None,
        normalise: bool = True,
    ) -> Tomography:
        """Angles only in ``angle_range`` (width at most pi); by default as many as
        the full default geometry has in an interval of that width."""
        start, stop = (float(a) for a in angle_range)
        if not (math.isfinite(start) and math.isfinite(stop)) or not 0 < stop - start <= math.pi:
            raise InputError(
                f"angle_range must be finite with 0 < stop - start <= pi, got {angle_range!r}"
            )
        if n_angles is None:
            full = ParallelBeamGeometry.default(image_size).n_angles
            n_angles = max(1, math.ceil(full * (stop - start) / math.pi - 1e-9))
        geometry = ParallelBeamGeometry.default(image_size, n_angles, angle_range=(start, stop))
        return cls.from_geometry(geometry, normalise)

    @property
    def sinogram_shape(self) -> tuple[int, int]:
        """``(n_angles, n_bins)``."""
        return self.geometry.n_angles, self.geometry.n_bins

    def _check_dtype(self, t: Tensor) -> None:
        if t.dtype != self.matrix.dtype:
            raise TypeError(
                f"{self.name} holds {self.matrix.dtype} matrices but got a {t.dtype} tensor; "
                f"convert one of them (e.g. op.double() or op.to(x.dtype))"
            )

    # The results below are transposed views of the CSR product (no copy, ~25% faster):
    # valid tensors, but call .contiguous() before .view().
    def _forward(self, x: Tensor) -> Tensor:
        self._check_dtype(x)
        b = x.shape[0]
        return (self.matrix @ x.reshape(b, -1).T).T.reshape(b, *self.out_shape)

    def _adjoint(self, y: Tensor) -> Tensor:
        self._check_dtype(y)
        b = y.shape[0]
        return (self.matrix_t @ y.reshape(b, -1).T).T.reshape(b, *self.in_shape)

    def extra_repr(self) -> str:
        g = self.geometry
        sizes = f"image_size={g.image_size}, n_angles={g.n_angles}, n_bins={g.n_bins}"
        return f"{sizes}, {super().extra_repr()}"
