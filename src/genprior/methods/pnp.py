"""Plug-and-play half-quadratic splitting with a falling noise level (DPIR; Zhang et al. 2021).

A denoiser at noise level ``sigma`` is read as the proximal map of an implicit prior,
``D(., sigma) = prox_{sigma^2 R}``.  Half-quadratic splitting of ``min_x d(A x, y) + lam R(x)``
alternates, for ``k = 1..K`` with ``sigma_k`` falling geometrically from ``sigma_max`` to
``sigma_min`` (:func:`~genprior.methods.denoiser_prior.geometric_sigmas`),

    x_k = argmin_x gamma_k d(A x, y) + ||x - z_{k-1}||^2 / 2,     gamma_k = sigma_k^2 / lam   (data step)
    z_k = D(x_k, sigma_k)                                                                   (prior step)

from ``z_0 = A^T y`` and returns ``z_K``.  The data step is the fidelity's proximal map
(for the squared L2, the operator's ``prox_l2``: closed form for denoising, inpainting and
compressed sensing, conjugate gradient for blur and tomography).  ``lam`` is DPIR's
``2 lambda sigma_n^2`` for noise ``sigma_n``; for Gaussian data and the exact MMSE
denoiser, ``lam = 2 sigma_n^2`` and a small ``sigma_min`` give the posterior mean.

There is no stopping rule: the schedule runs to its end (every image ends ``"finished"``)
and costs ``steps`` network evaluations per image.  The history's ``"objective"`` is the
data term ``d(A z_k, y)`` (the splitting's objective has no closed form).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor

from genprior.errors import InputError
from genprior.methods.common import check_measurements, per_image
from genprior.methods.denoiser_prior import (
    CountedDenoiser,
    Denoiser,
    DenoiserParams,
    check_denoiser,
    check_sigmas,
    geometric_sigmas,
)
from genprior.methods.parameters import LAM_HELP, record_of
from genprior.params import param
from genprior.physics.fidelity import DataFidelity, default_fidelity
from genprior.solvers.loop import Callback, History, Report, iterate
from genprior.solvers.result import Result


@dataclass(frozen=True)
class PnPParams(DenoiserParams):
    """Parameters of :func:`pnp`; ``lam`` may hold one value per image."""

    lam: float | Tensor = param(0.005, LAM_HELP + " (DPIR's 2 lambda sigma_n^2)", minimum=0, above=0,
                                grid=(1.0, {0.25: 1e-6, 0.5: 1e-5}))
    steps: int = param(24, "iterations: noise levels of the schedule (network evaluations per image)", minimum=1)
    sigma_max: float = param(0.2, "the first noise level (DPIR: 49/255)", above=0)
    sigma_min: float = param(0.01, "the last noise level (DPIR: the noise level of the data)", above=0)


def pnp(physics, y: Tensor, generator=None, *, denoiser: Denoiser | None = None, fidelity: DataFidelity | None = None,
        callback: Callback | None = None, **params) -> Result:
    """Plug-and-play HQS: ``x <- prox_{gamma_k d}(z)``, ``z <- D(x, sigma_k)`` over a falling ``sigma_k``.

    Args:
        physics, y: the operator and measurements ``[B, *out_shape]``.
        generator: accepted and ignored (one signature for every method).
        denoiser: ``D(x, sigma)`` (:mod:`genprior.methods.denoiser_prior`).
        fidelity: the data term (it must have a proximal step; default squared L2).
        callback: called after every iteration (:func:`genprior.solvers.loop.iterate`).
        **params: the fields of :class:`PnPParams`.
    """
    p = PnPParams.create(params, "method 'pnp'")
    data = default_fidelity(fidelity)
    check_measurements(physics, y, data)
    check_denoiser(denoiser, physics, y, "pnp")
    if not p.sigma_min <= p.sigma_max:
        raise InputError(f"sigma_min ({p.sigma_min:g}) must not exceed sigma_max ({p.sigma_max:g})")
    sigmas = geometric_sigmas(p.sigma_max, p.sigma_min, p.steps)
    check_sigmas(denoiser, sigmas, "pnp")
    start = time.perf_counter()
    B = y.shape[0]
    lam = per_image(p.lam, B, "lam", y)
    D = CountedDenoiser(denoiser, B, y.device)
    with torch.no_grad():
        z = physics.A_adjoint(y)

    def step(idx: Tensor, history: History) -> Report:
        sigma = float(sigmas[history.iteration - 1])
        with torch.no_grad():
            x = data.prox(physics, z[idx], y[idx], sigma ** 2 / lam[idx])
            z[idx] = D(x, sigma, idx).to(z.dtype)
            fit = data(physics, z[idx], y[idx])
        done = torch.full((idx.numel(),), history.iteration == p.steps, dtype=torch.bool, device=y.device)
        return Report({"objective": fit, "sigma": torch.full_like(fit, sigma)},
                      converged=torch.zeros_like(done), finished=done)

    with torch.no_grad():
        initial = data(physics, z, y)
    record = iterate(step, {"objective": initial}, p.steps, callback)
    params_out = {**record_of(p), "fidelity": data.record(), "nfe": D.evaluations.cpu().tolist()}
    result = Result(x=z, z=None, u=None, iterations=record.iterations, history=record.history,
                    converged=record.converged, seconds=time.perf_counter() - start, params=params_out,
                    ended=list(record.ended))
    return result.require_finite("pnp")


__all__ = ["PnPParams", "pnp"]
