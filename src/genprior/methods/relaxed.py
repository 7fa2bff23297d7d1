"""The relaxed generative regulariser: small deviations from the generator's range.

    min_{x, z} ||A x - y||^2 + lam ||G(z) - x||^2 + lam mu ||z||^2

solved by alternating gradient descent with backtracking, ``z`` then ``x``
(Algorithm 2), batched with per-image step sizes and stopping.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor, nn

from genprior.methods.common import (
    check_generator,
    check_measurements,
    data_fit,
    frozen,
    image_shape,
    initial_latent,
    param_record,
    per_image,
    random_image,
    sq_norm,
)
from genprior.solvers.backtracking import Block, block_backtracking
from genprior.solvers.result import Result
from genprior.validation import check_choice

X_INITS = ("random", "generator", "zero")


def relaxed(
    physics,
    y: Tensor,
    generator: nn.Module | None = None,
    lam: float = 0.4,
    mu: float = 0.1,
    init: str | Tensor = "random",
    x_init: str = "random",
    seed: int = 0,
    max_iter: int = 200,
    tol: float = 1e-6,
    **solver_options,
) -> Result:
    """Minimise ``||A x - y||^2 + lam ||G(z) - x||^2 + lam mu ||z||^2`` over ``x`` and ``z``.

    Args:
        physics, y, generator, init, seed: as for :func:`genprior.methods.hard.hard`.
        lam: weight of the distance to the range of ``G``.
        mu: relative weight of the latent penalty.  ``lam`` and ``mu`` may be numbers or
            hold one value per image.
        x_init: ``"random"`` (i.i.d. ``N(0, 1)`` pixels, the paper's choice), ``"generator"``
            (``x0 = G(z0)``) or ``"zero"``.
    """
    check_choice(x_init, X_INITS, "x initialisation")
    check_measurements(physics, y)
    lam_t = per_image(lam, y.shape[0], "lam", y)
    lam_mu_t = lam_t * per_image(mu, y.shape[0], "mu", y)
    start = time.perf_counter()
    with frozen(generator):
        check_generator(generator, physics, y, "relaxed")
        z0 = initial_latent(generator, physics, y, init, seed)
        with torch.no_grad():
            if x_init == "generator":
                x0 = generator(z0).to(y.dtype)
            elif x_init == "zero":
                x0 = torch.zeros(y.shape[0], *image_shape(physics, y), dtype=y.dtype, device=y.device)
            else:
                x0 = random_image(image_shape(physics, y), y.shape[0], seed + 1, y)

        def make_partial(block, state, idx):
            y_idx, lam_idx, lam_mu_idx = y[idx], lam_t[idx], lam_mu_t[idx]
            with torch.no_grad():
                if block == "z":
                    x, fit = state["x"], data_fit(physics, state["x"], y_idx)
                    return lambda z, rows: (fit[rows] + lam_idx[rows] * sq_norm(generator(z) - x[rows])
                                            + lam_mu_idx[rows] * sq_norm(z))
                gz, pen = generator(state["z"]), lam_mu_idx * sq_norm(state["z"])
            return lambda x, rows: data_fit(physics, x, y_idx[rows]) + lam_idx[rows] * sq_norm(gz[rows] - x) + pen[rows]

        blocks = [Block("z", z0), Block("x", x0)]
        out = block_backtracking(make_partial, blocks, max_iter=max_iter, tol=tol, **solver_options)
    return Result(
        x=out.variables["x"], z=out.variables["z"], u=None, iterations=out.iterations,
        objective=out.objective, converged=out.converged, seconds=time.perf_counter() - start,
        params={"lam": param_record(lam), "mu": param_record(mu), "init": init if isinstance(init, str) else "tensor",
                "x_init": x_init, "seed": seed, "max_iter": max_iter},
    )
