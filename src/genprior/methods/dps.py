"""Diffusion posterior sampling (DPS; Chung et al. 2023): the reference sampler, with gradients through the network.

At each noise level ``sigma_i`` (:mod:`genprior.methods.sampling`) the sample takes an
ancestral step of the prior's reverse diffusion (variance-exploding form) and a step
down the gradient of the data misfit of the denoiser's estimate:

    x0 = D(x_i, sigma_i),      r = d(A x0, y)^(1/2)            (= ||A x0 - y|| for the squared L2)
    s_up = sigma_{i+1} sqrt(1 - sigma_{i+1}^2 / sigma_i^2),    s_down = sqrt(sigma_{i+1}^2 - s_up^2)
    x_{i+1} = x0 + (s_down / sigma_i) (x_i - x0) + s_up n  -  zeta grad_{x_i} r,    n ~ N(0, I)

(the step size ``zeta`` multiplies the gradient of the norm, not of its square, as in the
authors' code; DPS2022 issue 6 discusses the scaling).  Each level costs a forward and a
backward pass through the network; the last estimate is the sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from genprior.methods.common import per_image
from genprior.methods.denoiser_prior import Denoiser, SamplerParams, repeat_samples
from genprior.methods.sampling import run_sampler
from genprior.params import param
from genprior.physics.fidelity import DataFidelity
from genprior.solvers.loop import Callback
from genprior.solvers.result import Result


@dataclass(frozen=True)
class DPSParams(SamplerParams):
    """Parameters of :func:`dps`; ``zeta`` may hold one value per image."""

    zeta: float | Tensor = param(0.5, "step size on the gradient of the data misfit ||A x0 - y||", minimum=0,
                        grid=(10.0, {0.25: 1e-3, 0.5: 1e-2}))
    steps: int = param(200, "sampler steps (network evaluations, each with a backward pass, per sample)", minimum=1)


def dps(physics, y: Tensor, generator=None, *, denoiser: Denoiser | None = None, fidelity: DataFidelity | None = None,
        callback: Callback | None = None, **params) -> Result:
    """Sample with DPS (module docstring); the result is the mean of ``samples`` samples per image.

    Args:
        physics, y, generator, denoiser, fidelity, callback: as for :func:`genprior.methods.pnp.pnp`.
        **params: the fields of :class:`DPSParams`.
    """
    p = DPSParams.create(params, "method 'dps'")
    zeta = repeat_samples(per_image(p.zeta, y.shape[0], "zeta", y), p.samples)  # one step size per sample

    def make_update(D, y_rep, data):
        def update(x, sigma, following, rows, noise):
            with torch.enable_grad():
                xg = x.detach().requires_grad_(True)
                x0 = D(xg, sigma, rows)
                misfit = data(physics, x0, y_rep[rows]).clamp_min(0).sqrt()
                (grad,) = torch.autograd.grad(misfit.sum(), xg)
            x0 = x0.detach()
            if following == 0:
                return x0, x0
            up = following * math.sqrt(max(1 - following ** 2 / sigma ** 2, 0.0))
            down = math.sqrt(max(following ** 2 - up ** 2, 0.0))
            step = zeta[rows].to(x.dtype).reshape(-1, *[1] * (x.dim() - 1))
            return x0 + (down / sigma) * (x - x0) + up * noise - step * grad.to(x.dtype), x0
        return update

    return run_sampler("dps", physics, y, denoiser, p, make_update, fidelity, callback)


__all__ = ["DPSParams", "dps"]
