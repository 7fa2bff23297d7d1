"""Reconstruction methods: ``method(physics, y, generator=None, **params) -> Result``.

Generative regularisers of the family ``R_G(x) = min_z F(G(z) - x) + R_Z(z)``
(equation (7) of the paper; objectives in :mod:`genprior.methods.generative`, latent
priors in :mod:`genprior.methods.latent_priors`), projected gradient descent
(equation (8)) and the classical baselines.  The registry maps CLI names
to functions; :func:`get_method` raises a clear error for unknown names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from genprior.methods.classical import tikhonov, tv
from genprior.methods.hard import hard
from genprior.methods.pgd import pgd
from genprior.methods.relaxed import relaxed
from genprior.methods.sparse import sparse, sparse_tv
from genprior.validation import check_choice


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its function, whether it needs a generator, its parameters."""

    function: Callable
    needs_generator: bool
    params: tuple[str, ...]
    positive: tuple[str, ...] = ()  # parameters the maths needs > 0 (the others need >= 0)


METHODS: dict[str, MethodSpec] = {
    "hard": MethodSpec(hard, True, ("lam",)),
    "relaxed": MethodSpec(relaxed, True, ("lam", "mu")),
    "sparse": MethodSpec(sparse, True, ("lam", "mu")),
    "sparse-tv": MethodSpec(sparse_tv, True, ("lam", "mu")),
    "pgd": MethodSpec(pgd, True, ("lam",)),
    "tikhonov": MethodSpec(tikhonov, False, ("lam",)),
    "tv": MethodSpec(tv, False, ("lam",), positive=("lam",)),
}


def get_method(name: str) -> MethodSpec:
    """The registered method ``name``; ``ValueError`` listing the choices otherwise."""
    check_choice(name, tuple(METHODS), "method")
    return METHODS[name]


def check_param_values(name: str, values: dict[str, list[float] | float]) -> None:
    """Raise ``ValueError`` unless every value of each parameter is finite and ``>= 0`` (``> 0``
    for the method's :attr:`MethodSpec.positive` parameters, e.g. TV's ``lam``), before any solve."""
    spec = get_method(name)
    for param, given in values.items():
        for v in given if isinstance(given, (list, tuple)) else [given]:
            bad = not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")) or v < 0
            if not bad and param in spec.positive and v == 0:
                raise ValueError(f"method {name!r} needs {param} > 0, got {v!r}")
            if bad:
                raise ValueError(f"{param} must be finite and >= 0 (method {name!r}), got {v!r}")


__all__ = ["METHODS", "check_param_values", "MethodSpec", "get_method", "hard", "pgd", "relaxed", "sparse", "sparse_tv", "tikhonov", "tv"]
