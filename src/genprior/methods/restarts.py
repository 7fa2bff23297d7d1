"""Several starting points per image, solved in one batch; the lowest final objective wins.

``K`` starts for ``B`` images become one batch of ``K * B`` problems (start-major:
row ``k * B + b`` is start ``k`` of image ``b``).  Start 0 is the method's usual
starting point (``N(0, I)`` from ``seed``, the encoder's code, or the user's codes), so
the best of ``K`` is never worse than a single start; starts ``1..K-1`` are further
``N(0, I)`` draws from their own seeded stream.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genprior.errors import InputError
from genprior.methods.common import initial_latent, placement
from genprior.solvers.result import Result
from genprior.validation import check_finite

RESTART_STREAM = 1_000_003  # seed offset of the extra starts


def check_restarts(restarts: int) -> int:
    """Raise ``ValueError`` unless ``restarts`` is an integer >= 1."""
    if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 1:
        raise InputError(f"restarts must be >= 1 (an integer: starts per image), got {restarts!r}")
    return restarts


def restart_codes(first: Tensor, restarts: int, seed: int) -> Tensor:
    """``[K, B, d]`` starting codes: ``first`` ``[B, d]`` then ``K - 1`` seeded ``N(0, I)`` draws."""
    check_restarts(restarts)
    if restarts == 1:
        return first.unsqueeze(0)
    gen = torch.Generator().manual_seed(seed + RESTART_STREAM)
    more = torch.randn(restarts - 1, *first.shape, generator=gen, dtype=first.dtype).to(first.device)
    return torch.cat([first.unsqueeze(0), more])


def initial_codes(generator: nn.Module, physics, y: Tensor, init: str | Tensor = "random", seed: int = 0,
                  restarts: int = 1) -> Tensor:
    """All starting codes ``[K, B, d]`` of a generative method.

    ``init`` is ``"random"``, ``"encoder"``, codes ``[B, d]`` (start 0; more starts are
    drawn) or codes ``[K, B, d]`` for all starts (then ``K`` must equal ``restarts``).
    """
    check_restarts(restarts)
    if isinstance(init, Tensor) and init.dim() == 3:
        if init.shape[0] != restarts:
            raise InputError(f"initial codes of shape {list(init.shape)} hold {init.shape[0]} starts per image "
                             f"but restarts={restarts}")
        if init.shape[1] != y.shape[0] or init.shape[2] != generator.latent_dim:
            raise InputError(f"initial codes must have shape [K, {y.shape[0]}, {generator.latent_dim}], "
                             f"got {list(init.shape)}")
        return check_finite(init, "initial latent codes").to(y.device, placement(generator, y)[1])
    first = initial_latent(generator, physics, y, init, seed)
    if first.shape[0] != y.shape[0]:
        raise InputError(f"initial codes must have one row per image ({y.shape[0]}), got {first.shape[0]}")
    return restart_codes(first, restarts, seed)


def repeat_batch(value, K: int, B: int):
    """Repeat a per-image tensor (first dimension ``B``) ``K`` times; other values pass through."""
    if K == 1 or not isinstance(value, Tensor) or value.dim() == 0 or value.shape[0] != B:
        return value
    return value.repeat(K, *([1] * (value.dim() - 1)))


def keep_best(result: Result, K: int, B: int) -> Result:
    """From a ``K * B`` start-major batch keep, per image, the start of lowest final objective."""
    if K == 1:
        return result
    final = result.final_objective.reshape(K, B)
    finite = torch.isfinite(final) & torch.isfinite(result.x).flatten(1).all(1).reshape(K, B).cpu()
    final = torch.where(finite, final, torch.full_like(final, float("inf")))
    best = final.argmin(0)  # [B]
    pick = best * B + torch.arange(B)
    kept = result.select(pick.to(result.x.device))
    kept.params = {**result.params, "restarts": K, "chosen_start": [int(b) for b in best]}
    return kept
