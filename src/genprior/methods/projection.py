"""Projection onto the range of a generator: ``z*(x) = argmin_z ||G(z) - x||^2``.

Equation (9) of the paper, solved by gradient descent with backtracking (Algorithm 1),
batched.  It is the paper's test-set reconstruction (criterion A1) and the projection
step of projected gradient descent.  Starting points: the encoder's code (AE/VAE, the
paper's choice), ``K`` random draws ``z ~ N(0, I)`` solved together with the best final
objective kept per image (the paper: 4 for the GAN), or given codes.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor, nn

from genprior.methods.common import frozen, sq_norm
from genprior.solvers.backtracking import Block, block_backtracking
from genprior.solvers.result import Result
from genprior.validation import check_batch_shape, check_finite


def project_to_range(
    generator: nn.Module,
    x: Tensor,
    init: str | Tensor = "encoder",
    restarts: int = 4,
    seed: int = 0,
    max_iter: int = 200,
    tol: float = 1e-6,
    **solver_options,
) -> Result:
    """Find ``z*(x) = argmin_z ||G(z) - x||^2`` for every image of ``x`` ``[B, 1, n, n]``.

    Args:
        generator: ``G`` with ``latent_dim`` (and ``encode`` for ``init="encoder"``).
        x: target images.
        init: ``"encoder"``, ``"random"`` (best of ``restarts`` draws) or codes ``[B, d]``.
        restarts: number of random starts per image for ``init="random"`` (>= 1).
        seed: seed of the random starts.
        max_iter, tol, **solver_options: passed to :func:`block_backtracking`.

    Returns:
        A :class:`Result` with ``x = G(z*)``, ``z = z*``; for random starts the record
        (iterations, objective history) is that of the start that was kept.
    """
    check_finite(x, "target images")
    if restarts < 1:
        raise ValueError(f"restarts must be >= 1, got {restarts}")
    start = time.perf_counter()
    B, d = x.shape[0], generator.latent_dim
    with frozen(generator):
        p = next(generator.parameters(), None)
        dtype = p.dtype if p is not None else x.dtype
        K = 1
        if isinstance(init, Tensor):
            z0 = check_batch_shape(init, (d,), "initial latent codes").to(x.device, dtype)
        elif init == "encoder":
            if not callable(getattr(generator, "encode", None)):
                raise ValueError(f"init='encoder' needs a model with an encoder; {type(generator).__name__} has none")
            with torch.no_grad():
                z0 = generator.encode(x.to(dtype))
        elif init == "random":
            K = restarts
            gen = torch.Generator().manual_seed(seed)
            z0 = torch.randn(K * B, d, generator=gen, dtype=dtype).to(x.device)
        else:
            raise ValueError(f"unknown latent initialisation {init!r}; choose one of: encoder, random, or a tensor")
        target = x.to(dtype).repeat(K, *([1] * (x.dim() - 1)))

        def make_partial(block, state, idx):
            t = target[idx]
            return lambda z, rows: sq_norm(generator(z) - t[rows])

        out = block_backtracking(make_partial, [Block("z", z0)], max_iter=max_iter, tol=tol, **solver_options)
        z = out.variables["z"]
        final = out.objective.gather(0, out.iterations.clamp(max=out.objective.shape[0] - 1).unsqueeze(0)).squeeze(0)
        best = final.reshape(K, B).argmin(0)  # [B]: which start to keep
        pick = best * B + torch.arange(B)
        with torch.no_grad():
            z_best = z[pick.to(z.device)]
            x_best = generator(z_best)
    return Result(
        x=x_best, z=z_best, u=None, iterations=out.iterations[pick], objective=out.objective[:, pick],
        converged=out.converged[pick], seconds=time.perf_counter() - start,
        params={"init": init if isinstance(init, str) else "tensor", "restarts": K, "seed": seed, "max_iter": max_iter},
    )
