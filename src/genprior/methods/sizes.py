"""The memory a solve needs, checked against the limit before it starts.

A solve of ``P`` problems (images x restarts x grid values solved together) of ``n``
pixels and latent dimension ``d`` holds its iterates, gradients, line-search copies and,
for a generative method, the generator's activations: about
``4 (F n + 8 d)`` bytes per problem, with ``F`` = :data:`GENERATIVE_FLOATS` floats per
pixel for a generative method and :data:`CLASSICAL_FLOATS` otherwise (measured with the
compact models on 16 x 16 and 56 x 56 images: about 100 and 40, peak resident memory
over batches of 100 and 400).  Its objective history grows by one row of ``P`` values
per recorded iteration and statistic (``max_iter / record_every`` rows, or ``steps`` for a
method with a fixed schedule; at most :data:`STATISTICS` statistics, such as the objective
and a step size; each row also copied into the final ``[R, P]`` tables): about
``16 S P + 256`` bytes per row for ``S`` statistics.  So ``max_iter``, ``restarts``
and the batch are bounded by memory (:func:`genprior.resources.check_memory`), and a
request such as ``max_iter=10**11`` or ``restarts=100000`` is refused before any work,
in the library as well as on the command line.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from genprior.methods import get_method
from genprior.resources import check_memory

GENERATIVE_FLOATS = 128
CLASSICAL_FLOATS = 48
HISTORY_ROW_BYTES = 256
STATISTICS = 4  # statistics a solver records per iteration, at most (objective, step sizes, changes)
SOLVER_KEYWORDS = ("fidelity", "callback", "denoiser")  # what a method takes besides its parameters


def starts_per_image(params: dict[str, Any]) -> int:
    """Restarts ``K`` that ``params`` ask for (codes ``[K, B, d]`` given as ``init`` count too)."""
    init = params.get("init")
    if isinstance(init, Tensor) and init.dim() == 3:
        return int(init.shape[0])
    restarts = params.get("restarts", 1)
    return restarts if isinstance(restarts, int) and not isinstance(restarts, bool) and restarts > 0 else 1


def check_solve(method: str, params: dict[str, Any], images: int, pixels: int, latent_dim: int = 0,
                copies: int = 1, max_batch: int | None = None) -> None:
    """Raise :class:`~genprior.resources.ResourceLimitError` if solving ``images`` images (each
    ``copies`` times, e.g. grid values, and with its restarts) together would exceed the memory limit.

    ``params`` are checked against the method's parameter dataclass first (a bad value
    is an :class:`~genprior.errors.InputError` naming it); with ``max_batch`` the
    problems per solve are capped by it (callers solve in chunks), never below one
    image's restarts.
    """
    entry = get_method(method)
    chosen = entry.parameters.create({k: v for k, v in params.items() if (k != "lam" or v != "auto")
                                      and k not in SOLVER_KEYWORDS}, f"method {method!r}").values()
    K = starts_per_image(params) * chosen.get("samples", 1)
    problems = images * copies * K
    if max_batch is not None:
        problems = max(K, min(problems, max_batch))
    iterations = chosen.get("max_iter", chosen.get("steps", 1))
    rows = iterations // chosen.get("record_every", 1) + 2
    history = rows * (16.0 * STATISTICS * problems + HISTORY_ROW_BYTES)
    floats = GENERATIVE_FLOATS if entry.needs_generator or entry.needs_denoiser else CLASSICAL_FLOATS
    working = 4.0 * problems * (floats * pixels + 8 * latent_dim)
    what = f"{problems:,} problem{'s' if problems > 1 else ''} solved together"
    if history >= working:  # name the count that asks for most of it
        check_memory(history + working, f"the objective history of {what} over up to {iterations:,} "
                     "iterations", "lower `max_iter=`")
    else:
        check_memory(history + working, f"{what} ({images:,} image{'s' if images > 1 else ''}"
                     + (f" x {copies:,} grid values" if copies > 1 else "") + (f" x {K:,} restarts" if K > 1 else "")
                     + f", {pixels:,} pixels each)", "use fewer images or `restarts=`"
                     + (", a smaller `max_batch=`" if max_batch is not None else ""))

__all__ = ["CLASSICAL_FLOATS", "GENERATIVE_FLOATS", "HISTORY_ROW_BYTES", "SOLVER_KEYWORDS", "STATISTICS", "check_solve",
           "starts_per_image"]
