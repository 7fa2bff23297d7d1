"""Pose a problem on test images, reconstruct, score: the record ``reconstruct`` writes.

``y = A x + sigma e`` with ``e`` drawn from ``seed``; the chosen method reconstructs
the images in batches (chunks of :data:`CHUNK` images); PSNR (data range 1), NRMSE and
SSIM are computed per image and summarised (mean, std, median, range).

:func:`run_reconstruction` is the whole pipeline, optionally sharded across
``torchrun`` processes (:mod:`genprior.distributed`).  Batched float arithmetic depends
on which images share a batch (and a backtracking solve amplifies a last-bit difference
into other step sizes and stopping iterations), so every path solves the same chunks:
the images are cut into chunks of a size that does not depend on the number of
processes, each rank solves whole chunks, and the noise and every random start are
drawn for all images first.  The gathered per-image records are therefore bit for bit
those of a one-process run (on the CPU, with the same number of threads per process:
the CPU convolution kernels round differently for other thread counts).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from genprior.distributed import Rank, gather
from genprior.errors import InputError
from genprior.methods import get_method, solve
from genprior.methods.batching import PER_IMAGE_LISTS, concat_results, image_chunks
from genprior.methods.inputs import materialise_inputs, slice_inputs, start_choices
from genprior.methods.sizes import check_solve
from genprior.metrics import check_scorable, nrmse, psnr, ssim, summary
from genprior.physics.noise import gaussian_noise
from genprior.resources import check_memory
from genprior.solvers.result import Result
from genprior.validation import check_nonnegative, check_seed

CHUNK = 32  # images solved together by run_reconstruction (fewer when max_batch says so)


def measure(physics, x: Tensor, noise: float, seed: int) -> Tensor:
    """Noisy measurements ``A x + noise * e`` with ``e ~ N(0, I)`` from ``seed``.

    Raises:
        InputError: a seed outside ``[0, 2**63 - 1]``, or a noise level so large that the
            measurements overflow their dtype.
    """
    check_seed(seed, "seed")
    check_nonnegative(noise, "noise")
    with torch.no_grad():
        clean = physics.A(x)
        y = gaussian_noise(clean, noise, torch.Generator().manual_seed(seed))
    if not bool(torch.isfinite(y).all()) and bool(torch.isfinite(clean).all()):
        raise InputError(f"the noise level `noise={noise:g}` overflows the {str(y.dtype).replace('torch.', '')} "
                         f"measurements (their largest finite value is {torch.finfo(y.dtype).max:.3g}); "
                         "use a noise level comparable to the images' values (they lie in [0, 1])")
    return y


def score(x: Tensor, truth: Tensor) -> dict[str, Tensor]:
    """Per-image ``psnr``, ``nrmse`` and ``ssim`` of reconstructions ``x`` against ``truth``."""
    x = x.detach().to(truth.dtype)
    return {"psnr": psnr(x, truth), "nrmse": nrmse(x, truth), "ssim": ssim(x, truth)}


def per_image_records(result: Result, truth: Tensor, indices: list[int]) -> list[dict[str, Any]]:
    """One JSON-ready record per image: index, scores, iterations, final objective, how it ended (where the
    method says) and its per-image params (``lam``, network evaluations ``nfe``, sample ``spread``, ...)."""
    scores = score(result.x, truth)
    final = result.final_objective
    extra = {k: v for k, v in result.params.items() if k in PER_IMAGE_LISTS and isinstance(v, list)
             and len(v) == len(indices)}
    records = []
    for k, i in enumerate(indices):
        rec = {"index": int(i), "psnr": round(float(scores["psnr"][k]), 4), "nrmse": round(float(scores["nrmse"][k]), 6),
               "ssim": round(float(scores["ssim"][k]), 6), "iterations": int(result.iterations[k]),
               "converged": bool(result.converged[k]), "final_objective": float(final[k])}
        if result.ended is not None:
            rec["ended"] = result.ended[k]
        rec.update({name: values[k] for name, values in extra.items()})
        records.append(rec)
    return records


def summarise(per_image: list[dict[str, Any]], seconds: float, **info: Any) -> dict[str, Any]:
    """The run's summary (``info`` first) from its per-image records, sorted by image index: scores,
    seconds, iterations, converged images, and where every record has them, how the images ended
    (``{"converged": n, "finished": n, ...}``) and the network evaluations per image (``nfe``)."""
    per_image = sorted(per_image, key=lambda r: r["index"])
    n = len(per_image)
    column = lambda key: torch.tensor([r[key] for r in per_image], dtype=torch.float64)  # noqa: E731
    iterations = column("iterations")
    optional: dict[str, Any] = {}
    if per_image and all("ended" in r for r in per_image):
        optional["ended"] = {e: sum(r["ended"] == e for r in per_image) for e in dict.fromkeys(r["ended"] for r in per_image)}
    if per_image and all("nfe" in r for r in per_image):
        optional["nfe"] = summary(column("nfe"))
    return {
        **info,
        "n_images": n,
        "psnr_data_range": 1.0,
        "psnr": summary(column("psnr")),
        "nrmse": summary(column("nrmse")),
        "ssim": summary(column("ssim")),
        "seconds": round(seconds, 4),
        "seconds_per_image": round(seconds / max(n, 1), 5),
        "iterations": {"mean": float(iterations.mean()), "max": int(iterations.max())},
        "converged": sum(bool(r["converged"]) for r in per_image),
        **optional,
        "per_image": per_image,
    }


def record(result: Result, truth: Tensor, indices: list[int], **info: Any) -> dict[str, Any]:
    """The JSON-ready summary of one reconstruction run (``info`` goes in first)."""
    return summarise(per_image_records(result, truth, indices), result.seconds, **info)


def scalar_params(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` without the per-image lists (those live in the per-image records)."""
    out = {k: v for k, v in params.items() if not (k in PER_IMAGE_LISTS and isinstance(v, list))}
    if isinstance(params.get("lam"), list) and params.get("lam_choice") == "discrepancy":
        out["lam"] = "auto"
    return out


def run_reconstruction(
    physics,
    truth: Tensor,
    indices: list[int],
    method: str,
    generator: nn.Module | None = None,
    params: dict[str, Any] | None = None,
    noise: float = 0.1,
    seed: int = 0,
    rank: Rank | None = None,
    lam_grid: list[float] | None = None,
    max_batch: int = 4096,
    chunk: int = CHUNK,
    **info: Any,
) -> tuple[dict[str, Any], Tensor]:
    """Measure ``truth`` (all images), reconstruct this rank's images, gather and summarise.

    Args:
        physics: the operator; ``truth``: images ``[N, 1, H, W]`` with data-set ``indices``.
        method: registered method name; ``generator`` for generative methods.
        params: method parameters; ``lam="auto"`` chooses ``lam`` per image by the
            discrepancy principle over ``lam_grid`` (default: the method's default grid).
        noise, seed: the noise level and the noise's seed (drawn for all N images; the random starts
            come from ``params``' ``seed``, also drawn for all N images).
        rank: this process's :class:`~genprior.distributed.Rank` (default: a single process).
        max_batch: problems per solve at most (images x restarts; with ``lam="auto"`` the
            grid of a chunk's images is solved in parts of at most that many).
        chunk: images solved together: the images are cut into chunks of
            ``min(chunk, max_batch // restarts)``, the same chunks whatever the number of
            processes, and each rank solves whole chunks.
        **info: fields put first in the summary (then ``method``, ``params``, ``noise``, ``seed``: the noise's).

    Returns:
        ``(summary, x)``: the merged record (same on every rank) and all reconstructions ``[N, ...]``.
    """
    from genprior.choice.discrepancy import discrepancy_per_image
    from genprior.choice.grids import default_grid

    rank = rank or Rank()
    spec = get_method(method)
    params = {**spec.problem_values(noise), **(params or {})}  # e.g. ddrm's noise level, unless given
    auto = params.get("lam") == "auto"
    if auto:
        params.pop("lam")
    N = truth.shape[0]
    check_scorable(truth.shape, "the images")
    restarts = params.get("restarts", 1)
    d = getattr(generator, "latent_dim", 0) if spec.needs_generator else 0
    d = d if isinstance(d, int) else 0
    if isinstance(restarts, int) and not isinstance(restarts, bool):
        image_chunks(N, restarts, max_batch)  # one image's starts must fit one solve
        check_memory(4.0 * N * (restarts * d + 4 * truth[0].numel()),
                     f"the starting points of {N} images x {restarts} restarts", "use fewer images or restarts")
        copies = (len(lam_grid) if lam_grid is not None else len(default_grid(method, int(truth.shape[-1]))["lam"])
                  ) if auto else 1
        check_solve(method, params, min(N, chunk, max(1, max_batch // restarts)), int(truth[0].numel()), d,
                    copies=copies, max_batch=max_batch)
    y = measure(physics, truth, noise, seed)
    starts = start_choices(method, params)
    params = materialise_inputs(method, physics, y, generator, params)
    init = params.get("init")
    starts_per_image = init.shape[0] if isinstance(init, Tensor) and init.dim() == 3 else 1  # codes [K, N, d]
    image_chunks(1, starts_per_image, max_batch)  # one image's starts fit one solve
    size = min(chunk, max_batch // starts_per_image)  # images per solve, whatever the number of processes
    rows = rank.rows(N, size)
    part: tuple[list, float, Tensor | None, dict] = ([], 0.0, None, {})
    if rows:
        results = []
        for lo in range(rows.start, rows.stop, size):
            c = list(range(lo, min(lo + size, rows.stop)))
            inputs = slice_inputs(params, c, N)
            if auto:
                results.append(discrepancy_per_image(physics, y[c], method, noise, lam_grid, generator,
                                                     max_batch=max_batch, **inputs))
            else:
                results.append(solve(method, physics, y[c], generator, **inputs))
        result = concat_results(results)
        part = (per_image_records(result, truth[list(rows)], [indices[r] for r in rows]), result.seconds,
                result.x.detach().cpu(), scalar_params(result.params))
    parts = gather(part, rank)
    per_image = [r for p in parts for r in p[0]]
    seconds = max(p[1] for p in parts)
    x = torch.cat([p[2] for p in parts if p[2] is not None])
    run_params = {**next(p[3] for p in parts if p[3]), **starts}
    extra = {"processes": rank.world_size} if rank.sharded else {}
    info = {**info, "method": method, "params": run_params, "noise": noise, "seed": seed, **extra}
    return summarise(per_image, seconds, **info), x
