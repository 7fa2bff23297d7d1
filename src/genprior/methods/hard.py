"""The hard generative regulariser: solutions exactly in the range of the generator.

    z* = argmin_z ||A G(z) - y||^2 + lam ||z||^2,     x* = G(z*)

(equation (3) of the paper), solved by gradient descent with backtracking on ``z``
(Algorithm 1), batched over images with per-image step sizes and stopping.
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
    initial_latent,
    param_record,
    per_image,
    sq_norm,
)
from genprior.solvers.backtracking import Block, block_backtracking
from genprior.solvers.result import Result


def hard(
    physics,
    y: Tensor,
    generator: nn.Module | None = None,
    lam: float = 0.01,
    init: str | Tensor = "random",
    seed: int = 0,
    max_iter: int = 200,
    tol: float = 1e-6,
    **solver_options,
) -> Result:
    """Reconstruct ``x = G(z*)`` with ``z* = argmin ||A G(z) - y||^2 + lam ||z||^2``.

    Args:
        physics: the forward operator (``A`` / ``A_adjoint``).
        y: measurements ``[B, *out_shape]``.
        generator: ``G: [B, d] -> [B, 1, H, W]`` with ``latent_dim``.
        lam: weight of the latent penalty ``||z||^2`` (``alpha`` in the authors' code); a
            number or one value per image (to solve a parameter grid as one batch).
        init: ``"random"`` (``z ~ N(0, I)``), ``"encoder"`` or a tensor ``[B, d]``.
        seed: seed of the random initialisation.
        max_iter, tol, **solver_options: passed to :func:`block_backtracking`.
    """
    check_measurements(physics, y)
    lam_t = per_image(lam, y.shape[0], "lam", y)
    start = time.perf_counter()
    with frozen(generator):
        check_generator(generator, physics, y, "hard")
        z0 = initial_latent(generator, physics, y, init, seed)

        def make_partial(block, state, idx):
            y_idx, lam_idx = y[idx], lam_t[idx]
            return lambda z, rows: data_fit(physics, generator(z), y_idx[rows]) + lam_idx[rows] * sq_norm(z)

        out = block_backtracking(make_partial, [Block("z", z0)], max_iter=max_iter, tol=tol, **solver_options)
        z = out.variables["z"]
        with torch.no_grad():
            x = generator(z)
    return Result(
        x=x, z=z, u=None, iterations=out.iterations, objective=out.objective,
        converged=out.converged, seconds=time.perf_counter() - start,
        params={"lam": param_record(lam), "init": init if isinstance(init, str) else "tensor", "seed": seed, "max_iter": max_iter},
    )
