"""Latent regularisers ``R_Z(z)`` of the family ``min_z F(G(z) - x) + R_Z(z)`` (Section 3.2).

| name     | ``R_Z(z)``                          | enters the solver as            |
|----------|-------------------------------------|---------------------------------|
| ``l2``   | ``||z||^2`` (the paper's default)   | smooth term, weighted           |
| ``box``  | indicator of ``[-1, 1]^d``          | prox = clamp (projection)       |
| ``sphere``| indicator of ``sqrt(d) S^{d-1}``   | prox = radial projection        |
| ``critic``| ``-D(G(z))`` (WGAN critic score)   | smooth term, weighted           |
| ``tv``   | ``TV_eps(G(z))`` (smoothed TV)      | smooth term, weighted           |
| ``flow`` | ``-log p(z)`` (a fitted density)    | smooth term, weighted           |

Smooth priors are multiplied by the method's latent weight (``lam`` for hard,
``lam * mu`` for relaxed and sparse) and added to the smooth part of the objective;
the two set constraints ignore the weight and become the prox of the ``z`` block, so
the same PALM loop handles all of them.  The critic prior needs a model with a
``critic(x) -> [B]`` method (a WGAN-GP); higher scores mean "more real", so
``-D(G(z))`` is small on realistic images.  The TV prior uses
``sum sqrt(|D G(z)|^2 + eps)`` so that it is differentiable.  The flow prior needs a
model with a ``latent_flow`` (:class:`~genprior.models.latent_flow.LatentFlow`: a
normalising flow fitted to the encoder's codes of the training images, attached by
``genprior fit-flow`` and :func:`~genprior.models.checkpoint.load_model`); for
``p = N(0, I)`` it is ``||z||^2 / 2`` plus a constant, so its weight is twice the l2 one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genprior.errors import InputError
from genprior.physics.finite_differences import tv_norm
from genprior.validation import check_choice

LATENT_PRIORS = ("l2", "box", "sphere", "critic", "tv", "flow")
TV_SMOOTHING = 1e-4


@dataclass(frozen=True)
class LatentPrior:
    """One choice of ``R_Z``.

    Attributes:
        name: one of :data:`LATENT_PRIORS`.
        smooth: ``smooth(z, gz) -> [b]`` the unweighted smooth value (``gz = G(z)``),
            or ``None`` for a set constraint.
        project: the projection onto the set for a constraint, else ``None``.
    """

    name: str
    smooth: Callable[[Tensor, Tensor], Tensor] | None = None
    project: Callable[[Tensor], Tensor] | None = None

    def value(self, z: Tensor, gz: Tensor | None = None) -> Tensor:
        """The unweighted ``R_Z(z)`` per image (0 for a constraint: points are kept feasible)."""
        if self.smooth is None:
            return torch.zeros(z.shape[0], dtype=z.dtype, device=z.device)
        return self.smooth(z, gz)

    def prox(self, z: Tensor, step: Tensor) -> Tensor:
        """Prox of the indicator: the projection (the step does not matter)."""
        assert self.project is not None
        return self.project(z)


def _l2(z: Tensor, gz: Tensor | None) -> Tensor:
    return z.pow(2).sum(1)


def _box(z: Tensor) -> Tensor:
    return z.clamp(-1.0, 1.0)


def _sphere(z: Tensor) -> Tensor:
    radius = z.shape[1] ** 0.5
    norm = z.norm(dim=1, keepdim=True)
    # z = 0 has no nearest point on the sphere; send it to the first axis
    fallback = torch.zeros_like(z)
    fallback[:, 0] = 1.0
    direction = torch.where(norm > 0, z / norm.clamp_min(1e-30), fallback)
    return radius * direction


def make_latent_prior(name: str | LatentPrior, generator: nn.Module | None = None,
                      tv_smoothing: float = TV_SMOOTHING) -> LatentPrior:
    """Build the latent prior ``name`` for ``generator``.

    Raises:
        InputError: unknown name, ``"critic"`` for a model without ``critic``, or ``"flow"``
            for a model without a latent flow of its latent dimension.
    """
    if isinstance(name, LatentPrior):
        return name
    check_choice(name, LATENT_PRIORS, "latent prior")
    if name == "l2":
        return LatentPrior("l2", smooth=_l2)
    if name == "box":
        return LatentPrior("box", project=_box)
    if name == "sphere":
        return LatentPrior("sphere", project=_sphere)
    if name == "tv":
        return LatentPrior("tv", smooth=lambda z, gz: tv_norm(gz, eps=tv_smoothing))
    if name == "flow":
        return LatentPrior("flow", smooth=_flow_nll(generator))
    critic = getattr(generator, "critic", None)
    if not callable(critic):
        kind = type(generator).__name__ if generator is not None else "None"
        raise InputError(
            f"latent prior 'critic' uses the GAN critic D: R_Z(z) = -D(G(z)); the model {kind} has no critic() "
            "(train a WGAN-GP, or choose l2, box, sphere or tv)"
        )
    return LatentPrior("critic", smooth=lambda z, gz: -critic(gz).reshape(-1))


def _flow_nll(generator: nn.Module | None) -> Callable[[Tensor, Tensor], Tensor]:
    """``(z, gz) -> -log p(z)`` for the generator's latent flow."""
    flow = getattr(generator, "latent_flow", None)
    kind = type(generator).__name__ if generator is not None else "None"
    if flow is None or not callable(getattr(flow, "log_prob", None)):
        raise InputError(
            f"latent prior 'flow' uses a density fitted to the training codes: R_Z(z) = -log p(z); the model {kind} "
            "has no latent flow (fit one with `genprior fit-flow --model DIR --data DATA`, or attach one from "
            "genprior.models.latent_flow.fit_latent_flow; or choose l2, box, sphere, critic or tv)"
        )
    dim, latent_dim = getattr(flow, "latent_dim", None), getattr(generator, "latent_dim", None)
    if dim != latent_dim:
        raise InputError(f"the latent flow of the model {kind} is a density on R^{dim} but the model's latent "
                         f"dimension is {latent_dim}; refit it with `genprior fit-flow --force`")
    return lambda z, gz: -flow.log_prob(z)
