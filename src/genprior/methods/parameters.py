"""The parameters every method shares, as dataclasses its own parameters extend.

A method's parameters are one frozen dataclass (:class:`genprior.params.Params`): the
fields below plus its regularisation weights, with their defaults, bounds and default
tuning grids.  A field with a ``grid`` may be given one value per image (a ``[B]``
tensor): a parameter grid is solved as one batch.  The registry (:data:`genprior.methods.METHODS`), the tuning code and
the command line read them from there, so a method's signature is written once.

One seed scheme for every method (so a run sliced into shards, chunks or grid points
starts every image where a single run would): latent codes ``z ~ N(0, I)`` are drawn
from ``seed`` (further restarts from ``seed + RESTART_STREAM``), random starting images
``x`` or ``u`` (i.i.d. ``N(0, 1)`` pixels) from ``seed + IMAGE_STREAM``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from torch import Tensor

from genprior.methods.common import LATENT_INITS, param_record
from genprior.methods.latent_priors import LATENT_PRIORS
from genprior.params import Params, param
from genprior.solvers.backtracking import OBJECTIVE_TOL
from genprior.validation import MAX_SEED

LAM_HELP = "regularisation weight lambda"
MU_HELP = "latent weight mu (R_Z is weighted by lam * mu)"


@dataclass(frozen=True)
class MethodParams(Params):
    """What every method takes: the seed of its random starts (and of its samples)."""

    seed: int = param(0, "seed of the random starts (codes from seed, random images from seed + 1)", minimum=0,
                      maximum=MAX_SEED)


@dataclass(frozen=True)
class IterativeParams(MethodParams):
    """What a method that iterates to a stopping rule takes besides: the rule and the cap."""

    max_iter: int = param(1000, "iteration limit", minimum=1)
    tol: float = param(OBJECTIVE_TOL, "per-image stop on the relative objective decrease per iteration", minimum=0)


@dataclass(frozen=True)
class GenerativeParams(IterativeParams):
    """What every generative method takes besides: the latent prior and the starting codes."""

    latent_prior: str = param("l2", "R_Z: l2 (||z||^2), box, sphere, critic (GAN), tv or flow (-log p(z) of a "
                              "density fitted by genprior fit-flow)", choices=LATENT_PRIORS, what="latent prior")
    init: str | Tensor = param("random", "latent start: random (z ~ N(0, I)) or encoder, or codes [B, d] or "
                               "[K, B, d]", choices=LATENT_INITS, what="latent initialisation")
    restarts: int = param(1, "starts per image, the lowest final objective kept", minimum=1)


def record_of(params: Params) -> dict[str, Any]:
    """A method's parameters as JSON, every field of its dataclass: numbers and names as they are, a
    regularisation weight given per image as a list, a starting point given as a tensor as ``"tensor"``."""
    out: dict[str, Any] = {}
    for f in fields(params):
        value = getattr(params, f.name)
        if isinstance(value, Tensor):
            out[f.name] = param_record(value) if "grid" in f.metadata else "tensor"
        else:
            out[f.name] = value
    return out
