"""Named inverse problems: build a normalised forward operator from a name and options.

``make_operator("tomography", image_size=56)`` returns the operator of the paper's
Shapes experiment, rescaled to norm 1.  The registry is what the CLI's ``--problem``
option accepts; unknown names and options raise ``ValueError`` listing the choices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genprior.physics.operator import LinearOperator
from genprior.validation import check_choice


def _tomography(image_size: int, angles: int | None = None, bins: int | None = None,
                angle_range: tuple[float, float] | None = None) -> LinearOperator:
    import math

    from genprior.physics.tomography import Tomography

    return Tomography(image_size=image_size, n_angles=angles, n_bins=bins,
                      angle_range=angle_range if angle_range is not None else (0.0, math.pi))


PROBLEMS: dict[str, Callable[..., LinearOperator]] = {
    "tomography": _tomography,
}


def make_operator(problem: str, image_size: int, **options: Any) -> LinearOperator:
    """The normalised operator of ``problem`` for ``image_size`` x ``image_size`` images.

    Options left as ``None`` take the problem's defaults.
    """
    check_choice(problem, tuple(PROBLEMS), "problem")
    options = {k: v for k, v in options.items() if v is not None}
    try:
        return PROBLEMS[problem](image_size, **options)
    except TypeError as exc:
        raise ValueError(f"problem {problem!r} does not take these options: {sorted(options)} ({exc})") from exc
