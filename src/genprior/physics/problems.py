"""Named inverse problems: a registry of option dataclasses that build normalised forward operators.

``make_operator("tomography", image_size=56)`` returns the operator of the paper's
Shapes experiment, rescaled to norm 1.  Each entry of :data:`PROBLEMS` is a frozen
dataclass of the problem's options (:class:`ProblemOptions`: typed fields with defaults,
bounds and help); it checks the sizes it would need (:meth:`ProblemOptions.check`)
and builds the operator (:meth:`ProblemOptions.build`).  The CLI's ``--problem`` and
the problem options of ``genprior reconstruct`` / ``tune`` are generated from this
registry, so a new problem is one module holding its operator and options dataclass,
plus one line in :data:`PROBLEMS` (or one entry point in the group ``genprior.problems``
of the package that holds it; :mod:`genprior.registry`).

=============== ============================================ ===============================
problem         operator                                     options (default)
=============== ============================================ ===============================
tomography      parallel-beam ray transform, ODL geometry    ``angles`` (ODL's: 125 at
                                                             56x56), ``bins``, ``angle_range``
sparse-view     tomography at a random subset of the         ``angles`` (a fifth of ODL's:
                default angles (as the authors did)          25 at 56x56), ``seed`` (0)
limited-angle   tomography with angles in one contiguous     ``angle_range`` (0:120deg),
                range (the missing-wedge problem)            ``angles`` (proportional: 84)
cs              dense Gaussian matrix, ``[B, m]`` output     ``measurements`` (150), ``seed``
deconvolution   Gaussian blur, zero boundary                 ``kernel_size`` (5),
                                                             ``kernel_width`` (1.0)
inpainting      random pixel subset, ``[B, n_kept]`` output  ``keep`` (0.25), ``seed`` (0)
denoising       identity                                     none
=============== ============================================ ===============================

Every operator has norm 1 (``A`` divided by ``||A||``; the identity and a pixel
selection already have it), so a noise level ``sigma`` means the same on every problem.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from genprior.errors import InputError
from genprior.params import param
from genprior.physics.operator import LinearOperator
from genprior.physics.options import ProblemOptions
from genprior.registry import Registry
from genprior.resources import check_memory
from genprior.validation import MAX_SEED

SPARSE_VIEW_FRACTION = 0.2
LIMITED_ANGLE_RANGE = (0.0, 2.0 * math.pi / 3.0)  # 0..120 degrees: a 60-degree missing wedge
OPERATOR_SEED = "--operator-seed"  # the CLI's --seed is the noise's


def parse_range(value: str | tuple[float, float]) -> tuple[float, float]:
    """``"0:3.14159"`` (radians) or ``"0:180deg"`` (degrees) -> ``(start, stop)``; a pair is kept."""
    if not isinstance(value, str):
        return tuple(value)
    start, sep, stop = value.partition(":")
    scale = 1.0
    if stop.endswith("deg"):
        stop, scale = stop[:-3], math.pi / 180.0
    try:
        if not sep:
            raise InputError
        return float(start) * scale, float(stop) * scale
    except ValueError:
        raise InputError(f"must look like 0:1.57 (radians) or 0:90deg, got {value!r}") from None


def _check_rays(n: int, angles: int | None, bins: int | None) -> None:
    """A ray transform stores about ``2 n`` crossings per detector bin and angle."""
    angles = angles or math.ceil(math.pi * n / math.sqrt(2))
    bins = bins or math.ceil(n * math.sqrt(2)) + 1
    check_memory(40.0 * angles * bins * (2 * n + 2), f"a ray transform of {angles} angles x {bins} bins "
                 f"on {n} x {n} images", "use fewer angles")


@dataclass(frozen=True)
class TomographyOptions(ProblemOptions):
    """Parallel-beam tomography with ODL's default geometry."""

    angles: int | None = param(None, "number of angles (default ODL's: 125 at 56x56)", minimum=1)
    bins: int | None = param(None, "detector bins (default ODL's: 81 at 56x56)", minimum=1)
    angle_range: tuple[float, float] | None = param(None, "angle range, e.g. 0:90deg (default 0:180deg)",
                                                    convert=parse_range)

    def check(self, image_size: int) -> None:
        _check_rays(image_size, self.angles, self.bins)

    def build(self, image_size: int) -> LinearOperator:
        from genprior.physics.tomography import Tomography

        return Tomography(image_size=image_size, n_angles=self.angles, n_bins=self.bins,
                          angle_range=self.angle_range if self.angle_range is not None else (0.0, math.pi))


@dataclass(frozen=True)
class SparseViewOptions(ProblemOptions):
    """Tomography at a seeded random subset of the default angles."""

    angles: int | None = param(None, "angles kept (default a fifth of ODL's: 25 at 56x56)", minimum=1)
    seed: int = param(0, "seed of the random operator", flag=OPERATOR_SEED, minimum=0, maximum=MAX_SEED)

    def check(self, image_size: int) -> None:
        _check_rays(image_size, self.angles, None)

    def build(self, image_size: int) -> LinearOperator:
        from genprior.physics.tomography import ParallelBeamGeometry, Tomography

        angles = self.angles
        if angles is None:
            angles = max(1, round(SPARSE_VIEW_FRACTION * ParallelBeamGeometry.default(image_size).n_angles))
        return Tomography.sparse_view(image_size, angles, seed=self.seed)


@dataclass(frozen=True)
class LimitedAngleOptions(ProblemOptions):
    """Tomography with its angles in one contiguous range (a missing wedge)."""

    angle_range: tuple[float, float] | None = param(None, "angle range, e.g. 0:90deg (default 0:120deg)",
                                                    convert=parse_range)
    angles: int | None = param(None, "number of angles (default proportional to the range: 84 at 56x56)",
                               minimum=1)

    def check(self, image_size: int) -> None:
        _check_rays(image_size, self.angles, None)

    def build(self, image_size: int) -> LinearOperator:
        from genprior.physics.tomography import Tomography

        return Tomography.limited_angle(image_size, self.angle_range or LIMITED_ANGLE_RANGE, n_angles=self.angles)


@dataclass(frozen=True)
class CompressedSensingOptions(ProblemOptions):
    """A dense Gaussian measurement matrix."""

    measurements: int = param(150, "number of measurements m (at most the number of pixels)", minimum=1)
    seed: int = param(0, "seed of the random operator", flag=OPERATOR_SEED, minimum=0, maximum=MAX_SEED)

    def check(self, image_size: int) -> None:
        m, n = self.measurements, image_size
        if m > n * n:  # more rows than unknowns: no longer compressed, and the m x n^2 matrix only grows
            raise InputError(f"`measurements={m}` is more than the {n * n} pixels of {n} x {n} images; compressed "
                             f"sensing measures fewer values than pixels: use at most {n * n}")
        check_memory(12.0 * m * n * n, f"a {m} x {n * n} compressed-sensing matrix", "use fewer measurements")

    def build(self, image_size: int) -> LinearOperator:
        from genprior.physics.compressed_sensing import CompressedSensing

        return CompressedSensing(image_size, measurements=self.measurements, seed=self.seed)


@dataclass(frozen=True)
class DeconvolutionOptions(ProblemOptions):
    """A Gaussian blur with zero boundary."""

    kernel_size: int = param(5, "Gaussian kernel size (odd, at most the image size)", minimum=1)
    kernel_width: float = param(1.0, "Gaussian kernel standard deviation", above=0)

    def check(self, image_size: int) -> None:
        k, n = self.kernel_size, image_size
        if k > n:  # its outer entries would never meet a pixel, and the cost grows with its area
            raise InputError(f"kernel_size {k} is larger than the {n} x {n} images; a blur kernel must fit in the "
                             f"image (at most {n if n % 2 else n - 1}, odd)")
        check_memory(8.0 * k * k * n * n, f"a {k} x {k} blur of {n} x {n} images")

    def build(self, image_size: int) -> LinearOperator:
        from genprior.physics.blur import Blur

        return Blur(image_size, kernel_size=self.kernel_size, kernel_width=self.kernel_width)


@dataclass(frozen=True)
class InpaintingOptions(ProblemOptions):
    """A seeded random subset of the pixels."""

    keep: float = param(0.25, "fraction of pixels kept", above=0, maximum=1)
    seed: int = param(0, "seed of the random operator", flag=OPERATOR_SEED, minimum=0, maximum=MAX_SEED)

    def check(self, image_size: int) -> None:
        check_memory(24.0 * image_size * image_size, f"a pixel mask of {image_size} x {image_size} images")

    def build(self, image_size: int) -> LinearOperator:
        from genprior.physics.masks import Inpainting

        return Inpainting(image_size, keep=self.keep, seed=self.seed)


@dataclass(frozen=True)
class DenoisingOptions(ProblemOptions):
    """The identity: no options."""

    def build(self, image_size: int) -> LinearOperator:
        from genprior.physics.denoising import Identity

        return Identity(image_size)


PROBLEMS: Registry[type[ProblemOptions]] = Registry(
    "problem", "genprior.problems", lambda e: isinstance(e, type) and issubclass(e, ProblemOptions),
    "a subclass of genprior.physics.options.ProblemOptions", {
    "tomography": TomographyOptions,
    "sparse-view": SparseViewOptions,
    "limited-angle": LimitedAngleOptions,
    "cs": CompressedSensingOptions,
    "deconvolution": DeconvolutionOptions,
    "inpainting": InpaintingOptions,
    "denoising": DenoisingOptions,
})


def problem_class(problem: str) -> type[ProblemOptions]:
    """The options dataclass of ``problem``; :class:`~genprior.errors.InputError` listing the choices otherwise."""
    return PROBLEMS.get_entry(problem)


def problem_options(problem: str) -> tuple[str, ...]:
    """The option names ``problem`` accepts (besides ``image_size``)."""
    return tuple(f.name for f in dataclasses.fields(problem_class(problem)))


def make_operator(problem: str, image_size: int, **options: Any) -> LinearOperator:
    """The normalised operator of ``problem`` for ``image_size`` x ``image_size`` images.

    Options left as ``None`` take the problem's defaults.

    Raises:
        ValueError: unknown problem, an option the problem does not take, a bad value, or
            sizes the images cannot take.
        genprior.resources.ResourceLimitError: the operator would not fit in memory.
    """
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise InputError(f"image_size must be a positive integer, got {image_size!r}")
    chosen = problem_class(problem).create(options, f"problem {problem!r}")
    chosen.check(image_size)
    return chosen.build(image_size)
