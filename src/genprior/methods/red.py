"""Regularisation by denoising (RED; Romano, Elad and Milanfar 2017), solved by its fixed-point iteration.

RED regularises with the energy ``rho(x) = x^T (x - D(x, sigma)) / 2`` of a denoiser at a
fixed noise level ``sigma``:

    E(x) = d(A x, y) + (lam / 2) x^T (x - D(x, sigma)).

Where ``D`` is locally homogeneous with a symmetric Jacobian (Romano et al.'s
conditions), ``grad rho(x) = x - D(x, sigma)``, and a minimiser satisfies the RED
equation ``grad d(A x, y) + lam (x - D(x, sigma)) = 0``.  Its solutions are the fixed
points of the proximal-gradient map (Romano et al.'s Algorithm 3 with an exact inner
solve; Reehorst and Schniter's RED-PG with step ``1 / lam``)

    T(v) = argmin_x d(A x, y) + (lam / 2) ||x - D(v, sigma)||^2 = prox_{d / lam}(D(v, sigma)),

which we iterate with Nesterov's extrapolation and an adaptive restart (O'Donoghue and
Candes 2015: momentum is dropped whenever it points uphill, ``(x_{k+1} - x_k)^T (v_k -
x_{k+1}) > 0``): ``x_{k+1} = T(v_k)``, ``v_{k+1} = x_{k+1} + (t_k - 1) / t_{k+1} (x_{k+1} -
x_k)``.  One network evaluation and one data step (the fidelity's proximal map) per
iteration; without the extrapolation a large ``lam`` needs thousands of iterations.

Stopping (per image): ``||T(v_k) - v_k|| <= tol ||v_k||``, the residual of the fixed-point
equation at the point just evaluated: a test of stationarity (of ``grad E = 0`` under
RED's conditions), as projected gradient's is; an image that reaches ``max_iter`` stops
unconverged.  The history records the energy ``E(v_k)`` (with the ``D(v_k)`` the
iteration evaluates anyway) as ``"objective"`` and the relative residual as ``"change"``.  For Gaussian data and its exact MMSE denoiser ``D`` is
affine with a symmetric Jacobian, and the fixed point is the minimiser of
``d(A x, y) + (lam sigma^2 / 2) (x - m)^T (C + sigma^2 I)^{-1} (x - m)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor

from genprior.batched import rows_like
from genprior.methods.common import check_measurements, per_image
from genprior.methods.denoiser_prior import CountedDenoiser, Denoiser, check_denoiser, check_sigmas
from genprior.methods.parameters import LAM_HELP, IterativeParams, record_of
from genprior.params import param
from genprior.physics.fidelity import DataFidelity, default_fidelity
from genprior.solvers.loop import Callback, History, Report, iterate
from genprior.solvers.result import Result


@dataclass(frozen=True)
class REDParams(IterativeParams):
    """Parameters of :func:`red`; ``lam`` may hold one value per image."""

    lam: float | Tensor = param(1.0, LAM_HELP, minimum=0, above=0, grid=(100.0, {0.25: 1e-3, 0.5: 1e-2}))
    sigma: float = param(0.05, "the denoiser's noise level", above=0)
    max_iter: int = param(300, "iteration limit", minimum=1)
    tol: float = param(1e-4, "per-image stop on the relative change ||x+ - x|| / ||x||", minimum=0)


def red(physics, y: Tensor, generator=None, *, denoiser: Denoiser | None = None, fidelity: DataFidelity | None = None,
        callback: Callback | None = None, **params) -> Result:
    """RED: ``x <- prox_{d / lam}(D(x, sigma))`` until ``x`` stops moving (module docstring).

    Args:
        physics, y: the operator and measurements ``[B, *out_shape]``.
        generator: accepted and ignored (one signature for every method).
        denoiser: ``D(x, sigma)`` (:mod:`genprior.methods.denoiser_prior`).
        fidelity: the data term (it must have a proximal step; default squared L2).
        callback: called after every iteration (:func:`genprior.solvers.loop.iterate`).
        **params: the fields of :class:`REDParams`.
    """
    p = REDParams.create(params, "method 'red'")
    data = default_fidelity(fidelity)
    check_measurements(physics, y, data)
    check_denoiser(denoiser, physics, y, "red")
    check_sigmas(denoiser, torch.tensor([p.sigma]), "red")
    start = time.perf_counter()
    B = y.shape[0]
    lam = per_image(p.lam, B, "lam", y)
    D = CountedDenoiser(denoiser, B, y.device)

    def energy(v: Tensor, denoised: Tensor, idx: Tensor) -> Tensor:
        prior = (v * (v - denoised)).reshape(v.shape[0], -1).double().sum(1) / 2
        return data(physics, v, y[idx]) + lam[idx].double() * prior

    with torch.no_grad():
        x = data.prox(physics, physics.A_adjoint(y), y, 1.0 / lam)  # a data-consistent start from A^T y
        v = x.clone()  # the extrapolated point T is applied to
        first = D(v, p.sigma).to(v.dtype)  # D(v_0), used by the first iteration too
        initial = energy(v, first, torch.arange(B, device=y.device))
    momentum = torch.ones(B, dtype=torch.float64, device=y.device)  # Nesterov's t_k per image

    def step(idx: Tensor, history: History) -> Report:
        with torch.no_grad():
            v_i, x_i = v[idx], x[idx]
            denoised = first[idx] if history.iteration == 1 else D(v_i, p.sigma, idx).to(v.dtype)
            value = energy(v_i, denoised, idx)
            new = data.prox(physics, denoised, y[idx], 1.0 / lam[idx])
            residual = (new - v_i).reshape(idx.numel(), -1).norm(dim=1)
            size = v_i.reshape(idx.numel(), -1).norm(dim=1).clamp_min(1e-12)
            uphill = ((new - x_i) * (v_i - new)).reshape(idx.numel(), -1).sum(1) > 0
            t = torch.where(uphill, torch.ones_like(momentum[idx]), momentum[idx])
            t_next = (1 + torch.sqrt(1 + 4 * t ** 2)) / 2
            v[idx] = new + rows_like((t - 1) / t_next, new) * (new - x_i)
            x[idx], momentum[idx] = new, t_next
        return Report({"objective": value, "change": (residual / size).double()}, converged=residual <= p.tol * size)

    record = iterate(step, {"objective": initial}, p.max_iter, callback)
    params_out = {**record_of(p), "fidelity": data.record(), "nfe": D.evaluations.cpu().tolist()}
    return Result(x=x, z=None, u=None, iterations=record.iterations, history=record.history,
                  converged=record.converged, seconds=time.perf_counter() - start, params=params_out,
                  ended=list(record.ended)).require_finite("red")


__all__ = ["REDParams", "red"]
