"""Projection onto the range of a generator: ``z*(x) = argmin_z ||G(z) - x||^2``.

Equation (9) of the paper, solved by gradient descent with backtracking (Algorithm 1),
batched; or, on the same objective with the same stopping rule, by L-BFGS or by
Gauss-Newton with the Jacobian ``dG/dz`` (``solver=``, :mod:`genprior.methods.solver_choice`).  It is the paper's test-set reconstruction (criterion A1) and the projection
step of projected gradient descent.  Starting points: the encoder's code (AE/VAE, the
paper's choice), ``K`` random draws ``z ~ N(0, I)`` solved together with the best final
objective kept per image (the paper: 4 for the GAN; the generic restart helpers of
:mod:`genprior.methods.restarts`), or given codes.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor, nn

from genprior.batched import sq_norm
from genprior.errors import InputError
from genprior.methods.common import frozen, placement
from genprior.methods.restarts import (
    check_pruning,
    check_restarts,
    keep_best,
    pruning_callback,
    repeat_batch,
    restart_codes,
)
from genprior.methods.solver_choice import check_solver, least_squares, resolve_solver
from genprior.solvers.backtracking import OBJECTIVE_TOL, Block, block_backtracking
from genprior.solvers.gauss_newton import gauss_newton
from genprior.solvers.lbfgs import lbfgs
from genprior.solvers.result import Result
from genprior.validation import check_batch_shape, check_finite


def project_to_range(
    generator: nn.Module,
    x: Tensor,
    init: str | Tensor = "encoder",
    restarts: int = 4,
    seed: int = 0,
    max_iter: int = 1000,
    tol: float = OBJECTIVE_TOL,
    solver: str = "backtracking",
    prune_after: int | None = None,
    prune_keep: int = 1,
    **solver_options,
) -> Result:
    """Find ``z*(x) = argmin_z ||G(z) - x||^2`` for every image of ``x`` ``[B, 1, n, n]``.

    Args:
        generator: ``G`` with ``latent_dim`` (and ``encode`` for ``init="encoder"``).
        x: target images.
        init: ``"encoder"``, ``"random"`` (best of ``restarts`` draws) or codes ``[B, d]``.
        restarts: number of random starts per image for ``init="random"`` (>= 1).
        seed: seed of the random starts.
        solver: ``"backtracking"`` (Algorithm 1, the paper's), ``"lbfgs"`` or ``"gauss-newton"``
            (:mod:`genprior.methods.solver_choice`; the same objective, the same stopping rule);
            ``"auto"`` is ``"lbfgs"`` (the objective is smooth and ``z`` unconstrained).
        prune_after, prune_keep: with several starts, after ``prune_after`` iterations only each
            image's ``prune_keep`` starts of lowest objective go on (:func:`genprior.methods.restarts.
            pruning_callback`: fewer solves, at the risk of dropping a start that would have ended
            lower); ``None``: every start runs to its own stop.
        max_iter, tol, **solver_options: passed to the solver.

    Returns:
        A :class:`Result` with ``x = G(z*)``, ``z = z*``; for random starts the record
        (iterations, objective history) is that of the start that was kept.
    """
    check_finite(x, "target images")
    check_restarts(restarts)
    check_pruning(prune_after, prune_keep)
    check_solver(solver, "projection", least_squares_in_z=True)
    solver = resolve_solver(solver)  # no latent prior: auto is lbfgs
    start = time.perf_counter()
    B, d = x.shape[0], generator.latent_dim
    with frozen(generator):
        dtype = placement(generator, x)[1]
        if isinstance(init, Tensor):
            z0 = check_batch_shape(init, (d,), "initial latent codes").to(x.device, dtype).unsqueeze(0)
        elif init == "encoder":
            if not callable(getattr(generator, "encode", None)):
                raise InputError(f"init='encoder' needs a model with an encoder; {type(generator).__name__} has none")
            with torch.no_grad():
                z0 = generator.encode(x.to(dtype)).unsqueeze(0)
        elif init == "random":
            first = torch.randn(B, d, generator=torch.Generator().manual_seed(seed), dtype=dtype).to(x.device)
            z0 = restart_codes(first, restarts, seed)  # [K, B, d]
        else:
            raise InputError(f"unknown latent initialisation {init!r}; choose one of: encoder, random, or a tensor")
        K = z0.shape[0]
        target = repeat_batch(x.to(dtype), K, B)

        z_start = z0.reshape(K * B, d)
        if prune_after is not None and K > 1:
            solver_options["callback"] = pruning_callback(K, B, prune_after, prune_keep, solver_options.get("callback"))
        if solver == "backtracking":
            def make_partial(block, state, idx):
                t = target[idx]
                return lambda z, rows: sq_norm(generator(z) - t[rows])

            out = block_backtracking(make_partial, [Block("z", z_start)], max_iter=max_iter, tol=tol, **solver_options)
        elif solver == "lbfgs":
            out = lbfgs(lambda v, index: sq_norm(generator(v["z"]) - target[index]), {"z": z_start},
                        max_iter=max_iter, tol=tol, **solver_options)
        else:
            value, model = least_squares(generator, lambda t: t, target, None)
            out = gauss_newton(value, model, z_start, max_iter=max_iter, tol=tol, **solver_options)
        z = out.variables["z"]
        with torch.no_grad():
            x_all = generator(z)
    result = Result.of(out, x_all, z, params={"init": init if isinstance(init, str) else "tensor", "restarts": K,
                                              "seed": seed, "max_iter": max_iter,
                                              "solver": solver,
                                              **({"prune_after": prune_after, "prune_keep": prune_keep}
                                                 if prune_after is not None else {})})
    result = keep_best(result, K, B).require_finite("projection")
    result.seconds = time.perf_counter() - start
    return result
