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


METHODS: dict[str, MethodSpec] = {
    "hard": MethodSpec(hard, True, ("lam",)),
    "relaxed": MethodSpec(relaxed, True, ("lam", "mu")),
    "sparse": MethodSpec(sparse, True, ("lam", "mu")),
    "sparse-tv": MethodSpec(sparse_tv, True, ("lam", "mu")),
    "pgd": MethodSpec(pgd, True, ("lam",)),
    "tikhonov": MethodSpec(tikhonov, False, ("lam",)),
    "tv": MethodSpec(tv, False, ("lam",)),
}


def get_method(name: str) -> MethodSpec:
    """The registered method ``name``; ``ValueError`` listing the choices otherwise."""
    check_choice(name, tuple(METHODS), "method")
    return METHODS[name]


__all__ = ["METHODS", "MethodSpec", "get_method", "hard", "pgd", "relaxed", "sparse", "sparse_tv", "tikhonov", "tv"]
