"""Several starting points per image, solved in one batch; the lowest final objective wins.

``K`` starts for ``B`` images become one batch of ``K * B`` problems (start-major:
row ``k * B + b`` is start ``k`` of image ``b``).  Start 0 is the method's usual
starting point (``N(0, I)`` from ``seed``, the encoder's code, or the user's codes), so
the best of ``K`` is never worse than a single start; starts ``1..K-1`` are further
``N(0, I)`` draws from their own seeded stream.

Pruning (:func:`pruning_callback`): after ``after`` iterations of the whole batch, each
image keeps running only its ``keep`` starts of lowest current objective; the others stop
there (ending ``"callback"``).  The solver's state, stopping rule and the kept starts'
paths are untouched (a pruned start only leaves the active set), and the objective of a
kept start only decreases, so the start :func:`keep_best` picks is one of those kept.  The
trade: a start pruned at iteration ``after`` might have ended lower than every kept one
(its descent was slower but its basin deeper); the cost falls from ``K`` solves per image
to about ``keep`` after the first ``after`` iterations.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genprior.errors import InputError
from genprior.methods.common import initial_latent, placement
from genprior.solvers.loop import Callback, Iteration
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


def check_pruning(after: int | None, keep: int = 1) -> None:
    """Raise :class:`InputError` unless ``after`` is ``None`` or an integer >= 1 and ``keep`` an integer >= 1."""
    for name, value, allow_none in (("prune_after", after, True), ("prune_keep", keep, False)):
        if value is None and allow_none:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be an integer >= 1{' or None (no pruning)' if allow_none else ''}, "
                             f"got {value!r}")


def pruning_callback(K: int, B: int, after: int, keep: int = 1, inner: Callback | None = None) -> Callback:
    """A loop callback that, at iteration ``after``, stops every start of a ``K * B`` start-major
    batch outside its image's ``keep`` lowest current objectives (module docstring).

    The current objective of a start that stopped earlier is its final one (it still counts
    in the ranking).  ``inner`` (the caller's own callback) is called too; an image stops if
    either asks.
    """
    check_pruning(after, keep)
    latest: list[Tensor] = []

    def callback(it: Iteration) -> Tensor | bool | None:
        asked = inner(it) if inner is not None else None
        if not latest:
            latest.append(torch.full((K * B,), float("inf"), dtype=torch.float64, device=it.active.device))
        f = it.stats["objective"].detach().to(torch.float64)
        latest[0][it.active] = torch.where(torch.isfinite(f), f, torch.full_like(f, float("inf")))
        if it.iteration != after or keep >= K:
            return asked
        rank = latest[0].reshape(K, B).argsort(dim=0, stable=True).argsort(dim=0, stable=True).reshape(K * B)  # 0: the image's lowest
        prune = rank[it.active] >= keep
        if asked is None:
            return prune
        return prune | torch.as_tensor(asked, dtype=torch.bool, device=prune.device).expand(prune.shape)

    return callback


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
