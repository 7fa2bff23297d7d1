"""DiffPIR (Zhu et al. 2023): diffusion sampling with plug-and-play's data step at every noise level.

At each noise level ``sigma_i`` of the sampler (:mod:`genprior.methods.sampling`) the
denoiser's estimate of the clean image is made consistent with the data, and the sample
is moved to the next level around it:

    x0 = D(x_i, sigma_i)
    x0 = argmin_x gamma_i d(A x, y) + ||x - x0||^2 / 2,      gamma_i = sigma_i^2 / lam   (as pnp's data step)
    e  = (x_i - x0) / sigma_i                                (the noise the sample carries)
    x_{i+1} = x0 + sigma_{i+1} (sqrt(1 - zeta) e + sqrt(zeta) n),    n ~ N(0, I)

and the last estimate is the sample.  ``lam`` is DiffPIR's ``2 lambda sigma_n^2`` (their
``rho_t = lambda sigma_n^2 / sigma_t^2``); ``zeta`` mixes the carried noise (0) with fresh
noise (1).  One network evaluation and one data step per level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from genprior.methods.common import per_image
from genprior.methods.denoiser_prior import Denoiser, SamplerParams, repeat_samples
from genprior.methods.parameters import LAM_HELP
from genprior.methods.sampling import run_sampler
from genprior.params import param
from genprior.physics.fidelity import DataFidelity
from genprior.solvers.loop import Callback
from genprior.solvers.result import Result


@dataclass(frozen=True)
class DiffPIRParams(SamplerParams):
    """Parameters of :func:`diffpir`; ``lam`` may hold one value per image."""

    lam: float | Tensor = param(0.01, LAM_HELP + " (DiffPIR's 2 lambda sigma_n^2)", minimum=0, above=0,
                                grid=(1.0, {0.25: 1e-6, 0.5: 1e-5}))
    zeta: float = param(0.3, "share of fresh noise at each step (0: deterministic, 1: fully stochastic)", minimum=0,
                        maximum=1)


def diffpir(physics, y: Tensor, generator=None, *, denoiser: Denoiser | None = None,
            fidelity: DataFidelity | None = None, callback: Callback | None = None, **params) -> Result:
    """Sample with DiffPIR (module docstring); the result is the mean of ``samples`` samples per image.

    Args:
        physics, y, generator, denoiser, fidelity, callback: as for :func:`genprior.methods.pnp.pnp`.
        **params: the fields of :class:`DiffPIRParams`.
    """
    p = DiffPIRParams.create(params, "method 'diffpir'")
    lam = repeat_samples(per_image(p.lam, y.shape[0], "lam", y), p.samples)
    keep, fresh = math.sqrt(1 - p.zeta), math.sqrt(p.zeta)

    def make_update(D, y_rep, data):
        def update(x, sigma, following, rows, noise):
            with torch.no_grad():
                x0 = D(x, sigma, rows)
                x0 = data.prox(physics, x0, y_rep[rows], sigma ** 2 / lam[rows])
                if following == 0:
                    return x0, x0
                carried = (x - x0) / sigma
                return x0 + following * (keep * carried + fresh * noise), x0
        return update

    return run_sampler("diffpir", physics, y, denoiser, p, make_update, fidelity, callback)


__all__ = ["DiffPIRParams", "diffpir"]
