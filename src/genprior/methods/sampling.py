"""The driver of the diffusion samplers (DiffPIR, DDRM, DPS): noise levels, samples, bookkeeping.

A sampler starts ``K`` samples of each image at ``x = sigma_0 e`` (``e ~ N(0, I)``, drawn
from ``seed``) and walks down Karras et al.'s noise levels ``sigma_0 > ... > sigma_{N-1}``
(then 0), one network evaluation per level; each method supplies its update
``x_i -> (x_{i+1}, estimate_i)``, where the estimate is its current guess of the clean
image.  The ``K B`` samples run as one batch on the one iteration loop; the result is each
image's mean over its samples, with their spread per image (``params["spread"]``), the
network evaluations per image (``params["nfe"]``: ``K N``, more where an update evaluates
twice) and the history, averaged over the samples, of the data term ``d(A x0, y)`` of the
estimates (``"objective"``) and of the noise level (``"sigma"``).  Every image ends
``"finished"``: a sampler has no stopping rule.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import Tensor

from genprior.methods.common import check_measurements, frozen
from genprior.methods.denoiser_prior import (
    CountedDenoiser,
    Denoiser,
    SamplerParams,
    check_denoiser,
    check_sigmas,
    default_sigma_limits,
    karras_sigmas,
    repeat_samples,
    sample_summary,
)
from genprior.methods.parameters import record_of
from genprior.physics.fidelity import DataFidelity, default_fidelity
from genprior.solvers.loop import Callback, History, Report, iterate
from genprior.solvers.result import Result

SIGMA_FALLBACK = (0.002, 10.0)  # (sigma_min, sigma_max) for a denoiser that does not say its trained range

# update(x [b], sigma, sigma_next, rows [b] of the K B batch, noise e [b]) -> (x_next, estimate)
Update = Callable[[Tensor, float, float, Tensor, Tensor], tuple[Tensor, Tensor]]


def run_sampler(method: str, physics, y: Tensor, denoiser: Denoiser | None, p: SamplerParams,
                make_update: Callable[[CountedDenoiser, Tensor, DataFidelity], Update], fidelity: DataFidelity | None,
                callback: Callback | None, record: dict | None = None) -> Result:
    """Run the sampler ``method`` whose update ``make_update(D, y_rep, fidelity)`` builds (module docstring).

    ``y_rep`` are the measurements repeated for the ``K`` samples (``[K B, ...]``, sample-major).
    """
    data = default_fidelity(fidelity)
    check_measurements(physics, y, data)
    shape = check_denoiser(denoiser, physics, y, method)
    low, high = default_sigma_limits(denoiser, p.sigma_min, p.sigma_max, SIGMA_FALLBACK)
    sigmas = karras_sigmas(high, low, p.steps)
    check_sigmas(denoiser, sigmas, method)
    following = torch.cat([sigmas[1:], torch.zeros(1, dtype=sigmas.dtype)])
    start = time.perf_counter()
    K, B = p.samples, y.shape[0]
    y_rep = repeat_samples(y, K)
    draws = torch.Generator().manual_seed(p.seed)

    def normal(rows: int) -> Tensor:
        return torch.randn(rows, *shape, generator=draws, dtype=y.dtype).to(y.device)

    module = denoiser if isinstance(denoiser, torch.nn.Module) else None
    with frozen(module):
        D = CountedDenoiser(denoiser, K * B, y.device)
        update = make_update(D, y_rep, data)
        x = float(sigmas[0]) * normal(K * B)
        estimate = x.clone()

        def step(idx: Tensor, history: History) -> Report:
            i = history.iteration - 1
            x_next, guess = update(x[idx], float(sigmas[i]), float(following[i]), idx, normal(idx.numel()))
            x[idx], estimate[idx] = x_next.detach(), guess.detach()
            with torch.no_grad():
                fit = data(physics, estimate[idx], y_rep[idx])
            last = torch.full((idx.numel(),), i == p.steps - 1, dtype=torch.bool, device=y.device)
            return Report({"objective": fit, "sigma": torch.full_like(fit, float(sigmas[i]))},
                          converged=torch.zeros_like(last), finished=last)

        with torch.no_grad():
            initial = data(physics, x, y_rep)
        loop = iterate(step, {"objective": initial}, p.steps, callback)
    mean, spread = sample_summary(estimate, K, B)
    history = {name: torch.nanmean(rows.reshape(rows.shape[0], K, B), dim=1) for name, rows in loop.history.items()}
    params = {**record_of(p), **(record or {}), "fidelity": data.record(),
              "nfe": D.evaluations.reshape(K, B).sum(0).cpu().tolist(), "spread": spread.tolist()}
    return Result(x=mean, z=None, u=None, iterations=loop.iterations[:B], history=history,
                  converged=loop.converged[:B], seconds=time.perf_counter() - start, params=params,
                  ended=list(loop.ended[:B])).require_finite(method)


__all__ = ["SIGMA_FALLBACK", "Update", "run_sampler"]
