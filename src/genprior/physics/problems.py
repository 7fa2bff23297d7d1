"""Named inverse problems: build a normalised forward operator from a name and options.

``make_operator("tomography", image_size=56)`` returns the operator of the paper's
Shapes experiment, rescaled to norm 1.  The registry is what the CLI's ``--problem``
option accepts; unknown names and options raise ``ValueError`` listing the choices.

=============== ============================================ ===============================
problem         operator                                     options (CLI flag: default)
=============== ============================================ ===============================
tomography      parallel-beam ray transform, ODL geometry    ``angles`` (``--angles``: ODL's,
                                                             125 at 56x56), ``bins``,
                                                             ``angle_range`` (0:180deg)
sparse-view     tomography at a random subset of the         ``angles`` (a fifth of ODL's:
                default angles (as the authors did)          25 at 56x56), ``seed`` (0)
limited-angle   tomography with angles in one contiguous     ``angle_range`` (0:120deg),
                range (the missing-wedge problem)            ``angles`` (proportional: 84)
cs              dense Gaussian matrix, ``[B, m]`` output     ``measurements`` (150),
                                                             ``seed`` (0)
deconvolution   Gaussian blur, zero boundary                 ``kernel_size`` (5),
                                                             ``kernel_width`` (1.0)
inpainting      random pixel subset, ``[B, n_kept]`` output  ``keep`` (0.25), ``seed`` (0)
denoising       identity                                     none
=============== ============================================ ===============================

Every operator has norm 1 (``A`` divided by ``||A||``; the identity and a pixel
selection already have it), so a noise level ``sigma`` means the same on every problem.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

from genprior.physics.operator import LinearOperator
from genprior.validation import check_choice

SPARSE_VIEW_FRACTION = 0.2
LIMITED_ANGLE_RANGE = (0.0, 2.0 * math.pi / 3.0)  # 0..120 degrees: a 60-degree missing wedge


def _tomography(image_size: int, angles: int | None = None, bins: int | None = None,
                angle_range: tuple[float, float] | None = None) -> LinearOperator:
    from genprior.physics.tomography import Tomography

    return Tomography(image_size=image_size, n_angles=angles, n_bins=bins,
                      angle_range=angle_range if angle_range is not None else (0.0, math.pi))


def _sparse_view(image_size: int, angles: int | None = None, seed: int = 0) -> LinearOperator:
    from genprior.physics.tomography import ParallelBeamGeometry, Tomography

    if angles is None:
        angles = max(1, round(SPARSE_VIEW_FRACTION * ParallelBeamGeometry.default(image_size).n_angles))
    return Tomography.sparse_view(image_size, angles, seed=seed)


def _limited_angle(image_size: int, angle_range: tuple[float, float] | None = None,
                   angles: int | None = None) -> LinearOperator:
    from genprior.physics.tomography import Tomography

    return Tomography.limited_angle(image_size, angle_range if angle_range is not None else LIMITED_ANGLE_RANGE,
                                    n_angles=angles)


def _cs(image_size: int, measurements: int = 150, seed: int = 0) -> LinearOperator:
    from genprior.physics.compressed_sensing import CompressedSensing

    return CompressedSensing(image_size, measurements=measurements, seed=seed)


def _deconvolution(image_size: int, kernel_size: int = 5, kernel_width: float = 1.0) -> LinearOperator:
    from genprior.physics.blur import Blur

    return Blur(image_size, kernel_size=kernel_size, kernel_width=kernel_width)


def _inpainting(image_size: int, keep: float = 0.25, seed: int = 0) -> LinearOperator:
    from genprior.physics.masks import Inpainting

    return Inpainting(image_size, keep=keep, seed=seed)


def _denoising(image_size: int) -> LinearOperator:
    from genprior.physics.denoising import Identity

    return Identity(image_size)


PROBLEMS: dict[str, Callable[..., LinearOperator]] = {
    "tomography": _tomography,
    "sparse-view": _sparse_view,
    "limited-angle": _limited_angle,
    "cs": _cs,
    "deconvolution": _deconvolution,
    "inpainting": _inpainting,
    "denoising": _denoising,
}


def problem_options(problem: str) -> tuple[str, ...]:
    """The option names ``problem`` accepts (besides ``image_size``)."""
    check_choice(problem, tuple(PROBLEMS), "problem")
    return tuple(inspect.signature(PROBLEMS[problem]).parameters)[1:]


def make_operator(problem: str, image_size: int, **options: Any) -> LinearOperator:
    """The normalised operator of ``problem`` for ``image_size`` x ``image_size`` images.

    Options left as ``None`` take the problem's defaults.

    Raises:
        ValueError: unknown problem, an option the problem does not take, or a bad value.
    """
    accepted = problem_options(problem)
    options = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        takes = ", ".join(accepted) if accepted else "no options"
        raise ValueError(f"problem {problem!r} does not take {', '.join(unknown)} (it takes: {takes})")
    check_sizes(problem, image_size, options)
    return PROBLEMS[problem](image_size, **options)


def check_sizes(problem: str, image_size: int, options: dict[str, Any]) -> None:
    """Check the sizes of ``problem`` before its operator is built.

    A blur kernel may not be larger than the image (its outer entries would never meet
    a pixel, and the convolution's cost grows with its area), and the memory of the
    operator's matrix (compressed sensing: ``m x n^2``; tomography: about ``2 n`` ray
    crossings per detector bin and angle; inpainting: a pixel list) is estimated against
    :func:`genprior.resources.memory_limit`.

    Raises:
        ValueError: a size is not a positive integer or is larger than the image allows.
        genprior.resources.ResourceLimitError: the operator would not fit in memory.
    """
    from genprior.resources import check_memory

    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size must be a positive integer, got {image_size!r}")
    for name in ("angles", "bins", "measurements", "kernel_size"):
        value = options.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    n = image_size
    if problem == "deconvolution":
        k = options.get("kernel_size", 5)
        if k > n:
            raise ValueError(f"kernel_size {k} is larger than the {n} x {n} images; a blur kernel must fit in the "
                             f"image (at most {n if n % 2 else n - 1}, odd)")
        check_memory(8.0 * k * k * n * n, f"a {k} x {k} blur of {n} x {n} images")
    elif problem == "cs":
        m = options.get("measurements", 150)
        check_memory(12.0 * m * n * n, f"a {m} x {n * n} compressed-sensing matrix", "use fewer measurements")
    elif problem in ("tomography", "sparse-view", "limited-angle"):
        angles = options.get("angles") or math.ceil(math.pi * n / math.sqrt(2))
        bins = options.get("bins") or math.ceil(n * math.sqrt(2)) + 1
        check_memory(40.0 * angles * bins * (2 * n + 2), f"a ray transform of {angles} angles x {bins} bins "
                     f"on {n} x {n} images", "use fewer angles")
    elif problem == "inpainting":
        check_memory(24.0 * n * n, f"a pixel mask of {n} x {n} images")
