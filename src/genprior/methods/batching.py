"""Solve large batches in chunks of at most ``max_batch`` problems, and join the results.

Every image of a run is one problem per start (``restarts`` ``K``) and per grid point,
so ``n`` images with ``K`` starts are ``n K`` problems.  A solve allocates memory in
proportion to its batch, so callers cut the images into chunks of at most
``max_batch // K`` images (:func:`image_chunks`) and stack the chunks' results
(:func:`concat_results`).  The ``K`` starts of one image are always solved together
(the best one is kept), so ``K`` itself may not exceed ``max_batch``.
"""

from __future__ import annotations

import torch

from genprior.errors import InputError
from genprior.resources import ResourceLimitError
from genprior.solvers.result import Result

PER_IMAGE_LISTS = ("lam", "residual", "chosen_start", "nfe", "spread")  # Result.params entries with one value per image


def check_max_batch(max_batch: int, restarts: int | None = None) -> int:
    """Raise :class:`InputError` unless ``max_batch`` is an integer >= 1 and at least ``restarts``
    (the starts of one image are solved together)."""
    if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
        raise InputError(f"max_batch must be an integer >= 1, got {max_batch!r}")
    if restarts is not None and restarts > max_batch:
        raise InputError(f"`restarts={restarts}` exceeds `max_batch={max_batch}`: the starts of one image are solved "
                         "together; use fewer restarts or raise max_batch (memory grows with it)")
    return max_batch


def image_chunks(n: int, per_image: int, max_batch: int) -> list[range]:
    """Ranges of images such that each chunk holds at most ``max_batch`` problems.

    Args:
        n: number of images.
        per_image: problems per image (restarts x grid points solved together).
        max_batch: problems per solve at most.

    Raises:
        ResourceLimitError: one image alone is more than ``max_batch`` problems.
    """
    check_max_batch(max_batch)
    if per_image > max_batch:
        raise ResourceLimitError(f"one image needs {per_image:,} problems solved together (its restarts), more "
                                 f"than max_batch = {max_batch:,}; use fewer restarts or raise max_batch")
    per = max(1, max_batch // max(per_image, 1))
    return [range(lo, min(lo + per, n)) for lo in range(0, n, per)]


def concat_results(parts: list[Result]) -> Result:
    """Stack results of consecutive image chunks into one (histories padded with NaN to the longest)."""
    if len(parts) == 1:
        return parts[0]

    def joined(name: str) -> torch.Tensor:
        rows = max(p.history[name].shape[0] for p in parts if name in p.history)
        hist = torch.full((rows, sum(len(p) for p in parts)), float("nan"), dtype=torch.float64)
        col = 0
        for p in parts:
            if name in p.history:
                hist[: p.history[name].shape[0], col : col + len(p)] = p.history[name]
            col += len(p)
        return hist

    def cat(name: str):
        values = [getattr(p, name) for p in parts]
        return None if values[0] is None else torch.cat(values)

    params = dict(parts[0].params)
    for key in PER_IMAGE_LISTS:
        if all(isinstance(p.params.get(key), list) and len(p.params[key]) == len(p) for p in parts):
            params[key] = [v for p in parts for v in p.params[key]]
    names = dict.fromkeys(name for p in parts for name in p.history)
    ended = [e for p in parts for e in p.ended] if all(p.ended is not None for p in parts) else None
    return Result(x=cat("x"), z=cat("z"), u=cat("u"), iterations=cat("iterations"),
                  history={name: joined(name) for name in names}, converged=cat("converged"),
                  seconds=sum(p.seconds for p in parts), params=params, ended=ended)


__all__ = ["PER_IMAGE_LISTS", "check_max_batch", "concat_results", "image_chunks"]
