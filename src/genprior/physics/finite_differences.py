"""Discrete gradient, its adjoint and isotropic total variation on ``[..., H, W]`` images.

Forward differences with a Neumann boundary: ``(D x)_1[i, j] = x[i+1, j] - x[i, j]``
(zero in the last row) and ``(D x)_2[i, j] = x[i, j+1] - x[i, j]`` (zero in the last
column).  ``grad_adjoint`` is the exact adjoint ``D^T`` (minus the discrete divergence),
and ``||D||^2 <= 8``.  Isotropic TV is ``TV(x) = sum_ij sqrt((Dx)_1^2 + (Dx)_2^2)``.
:class:`FiniteDifferences` is ``D`` as a :class:`~genprior.physics.operator.LinearOperator`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from genprior.physics.operator import LinearOperator

GRAD_NORM_SQ_BOUND = 8.0


def grad(x: Tensor) -> Tensor:
    """``D x``: ``[..., H, W] -> [..., 2, H, W]`` (vertical, horizontal differences)."""
    out = x.new_zeros((*x.shape[:-2], 2, *x.shape[-2:]))  # filled in place: no stacked copy
    out[..., 0, :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    out[..., 1, :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    return out


def grad_adjoint(p: Tensor) -> Tensor:
    """``D^T p``: ``[..., 2, H, W] -> [..., H, W]``, the exact adjoint of :func:`grad`."""
    pv, ph = p[..., 0, :, :], p[..., 1, :, :]
    out = torch.zeros_like(pv)
    out[..., :-1, :] -= pv[..., :-1, :]
    out[..., 1:, :] += pv[..., :-1, :]
    out[..., :, :-1] -= ph[..., :, :-1]
    out[..., :, 1:] += ph[..., :, :-1]
    return out


def tv_norm(x: Tensor, eps: float = 0.0) -> Tensor:
    """Isotropic TV per image of ``x`` ``[B, ...]``: ``sum sqrt(|D x|^2 + eps)``, shape ``[B]``.

    ``eps > 0`` gives the smoothed (differentiable) version used inside gradient methods.
    """
    g = grad(x)
    mag = (g.pow(2).sum(dim=-3) + eps).sqrt()
    return mag.reshape(x.shape[0], -1).sum(1)


def project_l2_ball(p: Tensor, radius: Tensor | float) -> Tensor:
    """Project each pixel's gradient vector of ``p`` ``[..., 2, H, W]`` onto ``{|.| <= radius}``."""
    mag = p.pow(2).sum(dim=-3, keepdim=True).sqrt()
    return p / torch.clamp(mag / radius, min=1.0)


class FiniteDifferences(LinearOperator):
    """``D``: ``[B, C, H, W] -> [B, C, 2, H, W]`` (:func:`grad`), adjoint :func:`grad_adjoint`; not normalised.

    Args:
        in_shape: shape of one image ``(C, H, W)``.
    """

    def __init__(self, in_shape: Sequence[int]) -> None:
        in_shape = tuple(int(s) for s in in_shape)
        super().__init__(in_shape, (*in_shape[:-2], 2, *in_shape[-2:]))

    def _forward(self, x: Tensor) -> Tensor:
        return grad(x)

    def _adjoint(self, p: Tensor) -> Tensor:
        return grad_adjoint(p)
