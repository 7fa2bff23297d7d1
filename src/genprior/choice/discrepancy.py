"""Per-image parameter choice by the discrepancy principle (``genprior reconstruct --lam auto``).

For every image, solve a grid of ``lam`` values (all ``G * n`` problems as one batch,
chunked by ``max_batch``) and keep the reconstruction whose residual ``||A x - y||`` is
closest to the expected noise norm ``sigma sqrt(m)`` (Morozov).  Parameters other than
``lam`` stay fixed.  The data-set-wide version (one ``lam`` for all tuning images) is
:func:`genprior.choice.tuning.grid_search` with ``criterion="discrepancy"``.
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import Tensor, nn

from genprior.choice.grids import default_grid
from genprior.choice.tuning import noise_norm
from genprior.errors import InputError
from genprior.methods import check_param_values, get_method
from genprior.methods.batching import concat_results, image_chunks
from genprior.methods.common import image_shape
from genprior.methods.inputs import materialise_inputs, repeat_inputs, slice_inputs
from genprior.methods.restarts import repeat_batch
from genprior.solvers.result import Result


def discrepancy_per_image(
    physics,
    y: Tensor,
    method: str,
    sigma: float,
    lams: list[float] | None = None,
    generator: nn.Module | None = None,
    max_batch: int = 4096,
    **fixed: Any,
) -> Result:
    """Reconstruct every image with its own ``lam``: the grid value whose residual is closest to ``sigma sqrt(m)``.

    All ``len(lams) * n`` problems are solved as one batch (chunked by ``max_batch``);
    the result holds, per image, the reconstruction of the chosen ``lam`` and its record.
    ``lams`` defaults to :func:`default_grid`'s ``lam`` values for the image size.

    Returns:
        A :class:`Result` whose ``params["lam"]`` lists the chosen values per image, with
        ``params["lam_choice"] = "discrepancy"``, ``params["lam_grid"]`` and the noise norm.
    """
    spec = get_method(method)
    if "lam" not in spec.tunable:
        raise InputError(f"method {method!r} has no parameter lam to choose")
    target = noise_norm(sigma, y)
    if lams is None:
        lams = default_grid(method, int(image_shape(physics, y)[-1]))["lam"]
    if not lams:
        raise InputError("the lam grid is empty")
    check_param_values(method, {"lam": lams})
    start = time.perf_counter()
    fixed = materialise_inputs(method, physics, y, generator, fixed)
    n, G = y.shape[0], len(lams)
    K = int(fixed.get("restarts", 1))
    if n * K > max_batch:  # more images than one solve may hold: chunks of images, each with the whole grid
        parts = [discrepancy_per_image(physics, y[c.start:c.stop], method, sigma, lams, generator, max_batch,
                                       **slice_inputs(fixed, list(c), n)) for c in image_chunks(n, K, max_batch)]
        out = concat_results(parts)
        out.seconds = time.perf_counter() - start
        return out
    per_solve = max(1, max_batch // (n * K))
    results, residuals = [], []
    for lo in range(0, G, per_solve):
        chunk = lams[lo : lo + per_solve]
        g = len(chunk)
        lam_t = torch.tensor([v for v in chunk for _ in range(n)], dtype=y.dtype)
        y_rep = repeat_batch(y, g, n)
        r = spec.run(physics, y_rep, generator, lam=lam_t, **repeat_inputs(fixed, g, n))
        with torch.no_grad():
            res = (physics.A(r.x.detach().to(y.dtype)) - y_rep).reshape(g, n, -1).norm(dim=2).cpu()
        results.append(r)
        residuals.append(res)
    residual = torch.cat(residuals).double()  # [G, n]
    choice = (residual - target).abs().argmin(0)  # [n]
    per_chunk = [len(lams[lo : lo + per_solve]) for lo in range(0, G, per_solve)]
    picked = []
    for b in range(n):
        g = int(choice[b])
        c, offset = 0, g
        while offset >= per_chunk[c]:
            offset -= per_chunk[c]
            c += 1
        picked.append(results[c].select(torch.tensor([offset * n + b])))
    out = concat_results(picked)
    out.seconds = time.perf_counter() - start
    out.params = {**results[0].params, "lam": [float(lams[int(g)]) for g in choice], "lam_choice": "discrepancy",
                  "lam_grid": [float(v) for v in lams], "noise_norm": target,
                  "residual": [float(residual[int(g), b]) for b, g in enumerate(choice)]}
    return out
