"""How much of the data the range of ``G`` covers (criterion A1), and how much else it
covers (criterion A2).

A1 (the paper's Section 4.3.1, Figures 1 and 2): for every test image ``x`` find
``z*(x) = argmin_z ||G(z) - x||^2`` (:func:`project_to_range`), starting from the
encoder's code for models that have one (AE, VAE) and from the best of ``K`` random
draws ``z ~ N(0, I)`` otherwise (GAN; the paper: ``K = 4``; the ``K`` starts of a chunk
of images are solved as one batch, each stopping on its own, and the lowest final
objective kept per image), and report ``NRMSE = ||G(z*) - x|| / ||x||``: its
distribution and the fraction of images below thresholds.  The paper solves with
Algorithm 1 (``solver="backtracking"``, what the paper experiments run); the default,
``solver="lbfgs"``, minimises the same objective from the same starts with the same
stopping rule in fewer generator passes (benchmarks/RESULTS.md, bench_a1).  ``prune_after``
(off by default) lets only each image's best starts go on after that many iterations: on
the Shapes GAN 6.5-6.9x backtracking's speed instead of 3.9x, but on 32-42% of images a
dropped start would have ended lower than the unpruned fit (bench_a1_gan).

A2: the same fit for images that are *not* from the data set (uniform noise, inverted
and shifted test images, another data set).  Here a *low* error is bad: a regulariser
that fits anything does not regularise.  ``auroc`` is the probability that an
off-distribution image is fitted worse than a test image (Mann-Whitney), 1 meaning the
fit error separates the two perfectly and 0.5 not at all.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genprior.errors import InputError
from genprior.metrics import nrmse, psnr, summary
from genprior.solvers.backtracking import OBJECTIVE_TOL

THRESHOLDS = (0.1, 0.2, 0.3)
#: The solver of the A1 fits unless one is named: L-BFGS, measured 3.9x faster than Algorithm 1 on the Shapes
#: GAN to a lower mean objective, and as fast on the VAE to a lower objective on every image (benchmarks/RESULTS.md,
#: bench_a1).  The paper's experiments pin ``"backtracking"`` (their published numbers and iteration counts).
A1_SOLVER = "lbfgs"


def default_init(generator: nn.Module) -> str:
    """``"encoder"`` for models with an ``encode`` method (AE, VAE), else ``"random"`` (GAN)."""
    return "encoder" if callable(getattr(generator, "encode", None)) else "random"


def quantiles(values: Tensor, qs: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)) -> dict[str, float]:
    """``{"q05": ..., "q25": ...}`` of a 1-D tensor."""
    v = values.detach().reshape(-1).to(torch.float64).cpu()
    return {f"q{round(100 * q):02d}": float(torch.quantile(v, q)) for q in qs}


def range_coverage(
    generator: nn.Module,
    images: Tensor,
    init: str = "auto",
    restarts: int = 4,
    seed: int = 0,
    max_iter: int = 1000,
    tol: float = OBJECTIVE_TOL,
    batch_size: int = 1000,
    thresholds: tuple[float, ...] = THRESHOLDS,
    solver: str = A1_SOLVER,
    prune_after: int | None = None,
    prune_keep: int = 1,
) -> dict:
    """Criterion A1: project every image onto the range of ``G`` and measure the error.

    Args:
        generator: ``G: [B, d] -> [B, 1, n, n]`` with ``latent_dim``.
        images: ``[N, 1, n, n]`` test images.
        init: ``"auto"`` (encoder if the model has one, else random), ``"encoder"`` or ``"random"``.
        restarts: random starts per image for ``init="random"`` (best one kept).
        seed: seed of the random starts (batch ``k`` uses ``seed + k``).
        max_iter, tol: the solver's iteration limit and stopping tolerance.
        batch_size: images solved together.
        thresholds: NRMSE thresholds for the fraction of images below them.
        solver: ``"backtracking"`` (Algorithm 1, the paper's), ``"lbfgs"``, ``"gauss-newton"`` or
            ``"auto"`` (``"lbfgs"``): :mod:`genprior.methods.solver_choice`, the same objective
            and stopping rule.
        prune_after, prune_keep: random starts only: after ``prune_after`` iterations each image goes
            on with only its ``prune_keep`` starts of lowest objective (the others stop there;
            :func:`genprior.methods.restarts.pruning_callback`); ``None``: every start runs to its stop.
            The trade: a pruned start might have ended lower than the kept ones.

    Returns:
        Tensors ``nrmse`` ``[N]``, ``psnr`` ``[N]`` (data range 1), ``z`` ``[N, d]``,
        ``reconstructions`` ``[N, 1, n, n]``, ``iterations`` ``[N]``, ``objective`` ``[N]`` (the final
        ``||G(z*) - x||^2``) and a JSON-ready
        ``summary``: NRMSE and PSNR statistics with quantiles, ``below`` (threshold ->
        fraction of images with NRMSE below it), iterations, settings and seconds.
    """
    from genprior.methods.common import placement
    from genprior.methods.projection import project_to_range
    from genprior.methods.restarts import check_pruning
    from genprior.methods.solver_choice import check_solver, resolve_solver

    check_solver(solver, "range coverage (A1)", least_squares_in_z=True)
    check_pruning(prune_after, prune_keep)
    if init == "auto":
        init = default_init(generator)
    if init not in ("encoder", "random"):
        raise InputError(f"unknown latent initialisation {init!r}; choose one of: auto, encoder, random")
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    device = placement(generator, images)[0]  # solve where the generator lives
    start = time.perf_counter()
    zs, xs, its, conv, objs = [], [], [], [], []
    for k, b0 in enumerate(range(0, images.shape[0], batch_size)):
        res = project_to_range(generator, images[b0:b0 + batch_size].to(device), init=init, restarts=restarts,
                               seed=seed + k, max_iter=max_iter, tol=tol, solver=solver,
                               prune_after=prune_after, prune_keep=prune_keep)
        zs.append(res.z.detach().cpu())
        xs.append(res.x.detach().cpu().to(images.dtype))
        its.append(res.iterations.cpu())
        conv.append(res.converged.cpu())
        objs.append(res.final_objective.detach().cpu())
    z, x_hat, iterations = torch.cat(zs), torch.cat(xs), torch.cat(its)
    err, quality = nrmse(x_hat, images.cpu()), psnr(x_hat, images.cpu())
    stats = {
        "n": int(images.shape[0]), "init": init, "restarts": restarts if init == "random" else 1,
        "max_iter": max_iter, "tol": tol, "solver": resolve_solver(solver),
        **({"prune_after": prune_after, "prune_keep": prune_keep} if prune_after is not None and init == "random"
           else {}),
        "nrmse": {**summary(err), **quantiles(err)},
        "psnr": summary(quality),
        "below": {f"{t:g}": float((err < t).to(torch.float64).mean()) for t in thresholds},
        "iterations": {"mean": float(iterations.to(torch.float64).mean()), "max": int(iterations.max())},
        "converged_fraction": float(torch.cat(conv).to(torch.float64).mean()),
        "seconds": time.perf_counter() - start,
    }
    return {"nrmse": err, "psnr": quality, "z": z, "reconstructions": x_hat, "iterations": iterations,
            "objective": torch.cat(objs), "summary": stats}


def resize_images(images: Tensor, size: int) -> Tensor:
    """Resize ``[N, 1, h, w]`` images to ``[N, 1, size, size]`` (bilinear, antialiased), clamped to [0, 1]."""
    if tuple(images.shape[-2:]) == (size, size):
        return images
    out = F.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return out.clamp(0, 1)


def off_distribution_images(test_images: Tensor, n: int = 200, seed: int = 0,
                            other: Tensor | None = None, other_name: str = "other data") -> dict[str, Tensor]:
    """Images that are not from the data set, ``n`` of each kind, ``[n, 1, H, W]``.

    Kinds: ``noise`` (i.i.d. uniform pixels in [0, 1]), ``inverted`` (``1 - x`` of test
    images), ``shifted`` (test images rolled by half the image size along both axes, so
    the content wraps around the borders), and ``other_name`` (images of another data
    set, resized to the test images' size) when ``other`` is given.
    """
    gen = torch.Generator().manual_seed(seed)
    n = min(n, test_images.shape[0])
    shape = tuple(test_images.shape[1:])
    pick = torch.randperm(test_images.shape[0], generator=gen)[:n]
    base = test_images[pick]
    half = shape[-1] // 2
    sets = {
        "noise": torch.rand((n, *shape), generator=gen),
        "inverted": 1.0 - base,
        "shifted": torch.roll(base, shifts=(half, half), dims=(-2, -1)),
    }
    if other is not None:
        take = torch.randperm(other.shape[0], generator=gen)[: min(n, other.shape[0])]
        sets[other_name] = resize_images(other[take], shape[-1])
    return sets


def auroc(positive: Tensor, negative: Tensor) -> float:
    """``P(positive > negative) + P(equal) / 2`` (the area under the ROC curve)."""
    from genprior.evaluation.distances import prob_greater

    return prob_greater(positive, negative)[0]


def off_distribution_fit(generator: nn.Module, off_sets: dict[str, Tensor], test_nrmse: Tensor | None = None,
                         **coverage_options) -> dict:
    """Criterion A2: how well ``G`` fits images that are not from the data set (low error is bad).

    Args:
        generator: ``G``.
        off_sets: name -> off-distribution images ``[n, 1, H, W]`` (see :func:`off_distribution_images`).
        test_nrmse: A1's per-image NRMSE on test images, for the separation score ``auroc``.
        **coverage_options: passed to :func:`range_coverage` (init, restarts, max_iter, solver, ...).

    Returns:
        name -> ``{"nrmse": Tensor, "reconstructions": Tensor, "summary": {..., "auroc"}}``.
    """
    out = {}
    for name, images in off_sets.items():
        res = range_coverage(generator, images, **coverage_options)
        stats = res["summary"]
        stats["auroc"] = auroc(res["nrmse"], test_nrmse) if test_nrmse is not None else None
        out[name] = {"nrmse": res["nrmse"], "reconstructions": res["reconstructions"], "summary": stats}
    return out

