"""Denoising diffusion restoration models (DDRM; Kawar et al. 2022): sampling in the operator's singular basis.

With the exact SVD ``A = U diag(s) V^T`` (:mod:`genprior.physics.svd`: denoising,
inpainting, compressed sensing) the measurements give, in the spectral coordinates
``c = V^T x``, ``ybar = diag(s)^{-1} U^T y`` with noise ``sigma_y / s`` per measured
coefficient.  At each noise level ``sigma_i`` (:mod:`genprior.methods.sampling`), with
``c0 = V^T D(x_i, sigma_i)``, ``c = V^T x_i``, ``n ~ N(0, I)`` and the next level
``sigma'``, each coefficient moves (variance-exploding form of their equations):

- not measured (``s = 0``):           ``c0 + sqrt(1 - eta^2) sigma' (c - c0) / sigma_i + eta sigma' n``
- measured, less noisy than the next sample (``sigma' < sigma_y / s``):
                                      ``c0 + sqrt(1 - eta^2) sigma' (ybar - c0) / (sigma_y / s) + eta sigma' n``
- measured, noisier than ``x_i``:      ``(1 - eta_b) c0 + eta_b ybar + sqrt(sigma'^2 - (sigma_y / s)^2 eta_b^2) n``

(the square root clipped at 0), and ``x_{i+1} = V c``; after the last level (``sigma' = 0``)
the sample is ``x_{i+1}``.  It needs the noise level ``sigma_y`` of the measurements and
assumes Gaussian noise (the squared L2 fidelity); one network evaluation per level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from genprior.errors import InputError
from genprior.methods.denoiser_prior import Denoiser, SamplerParams
from genprior.methods.sampling import run_sampler
from genprior.params import param
from genprior.physics.fidelity import DataFidelity, SquaredL2
from genprior.physics.svd import require_svd
from genprior.solvers.loop import Callback
from genprior.solvers.result import Result


@dataclass(frozen=True)
class DDRMParams(SamplerParams):
    """Parameters of :func:`ddrm` (its defaults are the authors': eta 0.85, eta_b 1, 20 steps)."""

    noise_level: float | None = param(None, "standard deviation sigma_y of the measurement noise (given by the "
                                      "command line's --noise)", minimum=0)
    eta: float = param(0.85, "share of fresh noise in the coefficients (eta)", minimum=0, maximum=1)
    eta_b: float = param(1.0, "weight of the measurements where they are noisier than the sample (eta_b)", minimum=0,
                         maximum=1)
    steps: int = param(20, "sampler steps (network evaluations per sample)", minimum=1)


def ddrm(physics, y: Tensor, generator=None, *, denoiser: Denoiser | None = None, fidelity: DataFidelity | None = None,
         callback: Callback | None = None, **params) -> Result:
    """Sample with DDRM (module docstring); the result is the mean of ``samples`` samples per image.

    Args:
        physics, y, generator, denoiser, callback: as for :func:`genprior.methods.pnp.pnp`.
        fidelity: the squared L2 (the default); DDRM's update assumes Gaussian noise.
        **params: the fields of :class:`DDRMParams` (``noise_level`` is required).

    Raises:
        InputError: no ``noise_level``, another fidelity, or an operator without an exact SVD.
    """
    p = DDRMParams.create(params, "method 'ddrm'")
    if p.noise_level is None:
        raise InputError("ddrm needs `noise_level=`: the standard deviation of the measurement noise")
    if fidelity is not None and type(fidelity) is not SquaredL2:
        raise InputError(f"ddrm assumes Gaussian noise (the squared L2 fidelity); it cannot use {fidelity!r}")
    svd = require_svd(physics, "ddrm")
    keep, fresh = math.sqrt(1 - p.eta ** 2), p.eta

    def make_update(D, y_rep, data):
        s = svd.mask.to(y_rep.dtype)  # [1, *in_shape] singular values
        measured = s > 0
        safe = torch.where(measured, s, torch.ones_like(s))
        ybar = torch.where(measured, svd.U_adjoint(y_rep) / safe, torch.zeros_like(s))
        noise_y = torch.where(measured, p.noise_level / safe, torch.full_like(s, float("inf")))

        def update(x, sigma, following, rows, noise):
            with torch.no_grad():
                x0 = D(x, sigma, rows)
                c0, c = svd.V_adjoint(x0), svd.V_adjoint(x)
                yb = ybar[rows]
                missing = c0 + keep * following * (c - c0) / sigma + fresh * following * noise
                quiet = c0 + keep * following * (yb - c0) / noise_y.clamp_min(1e-30) + fresh * following * noise
                loud = (1 - p.eta_b) * c0 + p.eta_b * yb + torch.sqrt(
                    (following ** 2 - (noise_y * p.eta_b) ** 2).clamp_min(0)) * noise
                coefficients = torch.where(~measured, missing, torch.where(following < noise_y, quiet, loud))
                x_next = svd.V(coefficients)
            return x_next, (x_next if following == 0 else x0)
        return update

    return run_sampler("ddrm", physics, y, denoiser, p, make_update, fidelity, callback)


__all__ = ["DDRMParams", "ddrm"]
