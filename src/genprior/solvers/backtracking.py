"""Batched block-coordinate descent with backtracking: the paper's Algorithms 1, 2 and 3.

We minimise ``F(v_1, ..., v_m) = f(v_1, ..., v_m) + sum_b g_b(v_b)`` over blocks of
variables (for example ``z`` and ``x``, or ``z`` and ``u``), where ``f`` is smooth and
each ``g_b`` is either absent or has a cheap proximal map.  One outer iteration
updates the blocks in order; block ``b`` takes the proximal-gradient step

    v_b+ = prox_{g_b / L_b}(v_b - grad_b f / L_b)

and accepts it when the sufficient-decrease test of PALM holds,

    f(v_b+) <= f(v_b) + <grad_b f, v_b+ - v_b> + (L_b / 2) ||v_b+ - v_b||^2,

otherwise ``L_b *= eta_up`` and it tries again (at most ``max_tries`` times); after a
successful step that moved ``v_b``, ``L_b *= eta_down``.  A candidate whose objective is
NaN or Inf always fails the test (in float32 ``||v_b+ - v_b||^2`` can overflow too, and
``inf <= inf`` would accept it).  A step that leaves ``v_b`` where it was (a prox that
returns the current point, e.g. a soft threshold keeping ``u = 0``) passes the test
trivially and says nothing about ``L_b``, so ``L_b`` is kept: halving it on every such
step let ``L_u`` of the sparse method sink to 1e-26 while ``u`` stayed 0, and the first
step that moved ``u`` then had length ~1e25.  With one block and no prox this is Algorithm 1
(the test reduces to ``f(v+) <= f(v) - ||grad f||^2 / (2 L)``), with two smooth blocks
Algorithm 2, with a prox Algorithm 3 (growing ``L_u`` on failure as intended).

Everything is batched over B independent problems: ``f`` returns one value per image
and its gradient is taken of the sum, so each image gets its own step sizes ``L``
(tensors of shape ``[B]``), its own line search and its own stopping test.  Images that
stopped are not evaluated.

Stopping (per image; :mod:`genprior.solvers.stopping`, shared with the L-BFGS and
Gauss-Newton solvers).  An image has **converged** when the objective ``F`` has stopped
decreasing: over the last ``window`` outer iterations it fell by at most
``tol * window * |F_k|``, i.e. by less than ``tol`` (relative) per iteration on average,

    F_{k - window} - F_k <= tol * window * |F_k|.

The objective, not the iterates, is the measure: where blocks are strongly coupled
(Algorithm 2 at large ``lam``) the iterates creep along a valley by tiny steps while the
objective still falls, and a relative-change test of the iterates (the paper's, 1e-6
here before) stopped 0.5% above the minimum.  A decrease of ``tol`` per iteration
bounds the remaining gap by ``tol |F| / (1 - rho)`` for a linear rate ``rho``: with the
default ``tol = 1e-7`` Algorithm 2 ends within 0.03% of the minimum that a float64
solve reaches on Shapes tomography (benchmarks/RESULTS.md, bench_convergence).  An image
also converges when an outer iteration leaves every block exactly where it was
(accepted steps too small to change a float: stationary to working precision).  An
image whose line searches all fail ``max_tries`` times in one outer iteration keeps its
point and stops *unconverged*, as does an image that reaches ``max_iter``.
Each try costs one evaluation of ``f`` for the images still trying; where the next step
uses the same partial objective (one block, or the repeated steps of one block), the
accepted candidates are evaluated with autograd on and differentiated at once, so the
next gradient costs a backward pass only (not a fresh forward and backward pass at the
point just evaluated; for a generator this saves a third of the work per iteration).
An image whose line searches all fail ``max_tries`` times in one outer iteration keeps
its point and stops.

Two extensions keep one loop for every method: a block may take several steps per
outer iteration (``Block.steps``; e.g. several ``x`` steps per ``z`` step of the relaxed
method), and a block's prox and penalty may receive the images' indices in the full
batch (``Block.indexed``), so that per-image parameters (a threshold ``lam``) and
per-image state (the warm-started dual of an inner TV prox) can be looked up.  The
initial ``L`` may be one number or a per-image tensor, and the final ``L`` of every
block is returned, so a solver called repeatedly (the inner projection of projected
gradient descent) can carry its step sizes over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from genprior.batched import rows_like, sq_norm
from genprior.errors import InputError
from genprior.solvers.loop import Callback, History, Report, SolveState, iterate
from genprior.solvers.precision import ieee_float32
from genprior.solvers.stopping import OBJECTIVE_TOL, check_stopping, objective_flat

# A partial objective: phi(v, rows) = f(state with block replaced by v) for the images
# idx[rows] of the active subset idx, returning one value per row, shape [len(rows)].
Partial = Callable[[Tensor, Tensor], Tensor]


@dataclass
class Block:
    """One block of variables.

    Attributes:
        name: key of the block in the state dictionary.
        init: initial value ``[B, ...]``.
        prox: ``prox(v, step)`` of ``step * g_b`` with per-image ``step`` shaped like
            ``[b, 1, ...]``; ``None`` for a smooth block.
        penalty: ``g_b(v)`` per image ``[b]`` for the objective record; ``None`` if smooth.
        indexed: if True, ``prox`` and ``penalty`` take a third/second argument, the
            indices ``[b]`` of the rows of ``v`` in the full batch: ``prox(v, step, index)``,
            ``penalty(v, index)``.
        steps: proximal-gradient steps this block takes per outer iteration (each with
            its own line search); 1 in the paper's algorithms.
    """

    name: str
    init: Tensor
    prox: Callable[..., Tensor] | None = None
    penalty: Callable[..., Tensor] | None = None
    indexed: bool = False
    steps: int = 1


# make_partial(block_name, state_subset, idx) -> Partial.  The state holds every block
# restricted to the active images idx; the partial may precompute what does not depend
# on the block being updated (e.g. G(z) while x moves) and must return the full smooth
# objective f, constants included, so values of different blocks are comparable.
PartialFactory = Callable[[str, dict[str, Tensor], Tensor], Partial]


def block_backtracking(
    make_partial: PartialFactory,
    blocks: list[Block],
    max_iter: int = 1000,
    tol: float = OBJECTIVE_TOL,
    L0: float | Tensor | dict[str, Tensor] = 1.0,
    eta_down: float = 0.5,
    eta_up: float = 10.0,
    max_tries: int = 60,
    window: int = 10,
    callback: Callback | None = None,
) -> SolveState:
    """Minimise a batched block objective by (proximal) gradient steps with backtracking.

    Args:
        make_partial: builds the smooth objective of one block with the others frozen.
        blocks: the blocks, updated in this order in every outer iteration.
        max_iter: outer iterations at most.
        tol: per-image stopping threshold on the relative objective decrease per
            iteration, averaged over ``window`` iterations (see the module docstring).
        L0: initial Lipschitz estimate (the paper: 1): a number, a per-image tensor ``[B]``
            for every block, or ``{block name: [B] tensor}``.
        eta_down: factor applied to ``L`` after an accepted step (the paper: 0.5).
        eta_up: factor applied to ``L`` after a rejected step (the paper: 10).
        max_tries: backtracking tries per step (the paper: 60).
        window: outer iterations over which the objective decrease is measured.
        callback: called after every outer iteration (:func:`genprior.solvers.loop.iterate`).

    Returns:
        The final variables and the loop's record: iterations ``[B]``, the history of the
        objective and of each block's Lipschitz estimate ``L_<block>`` (``[K + 1, B]``, NaN
        after an image stopped), ``converged`` (False where the cap or a failed line search
        stopped the image) and the final per-image ``L`` of every block.
    """
    check_stopping(max_iter, tol, window, max_tries)
    if any(b.steps < 1 for b in blocks):
        raise InputError("every block must take at least one step per iteration")
    state = {b.name: b.init.detach().clone() for b in blocks}
    B = blocks[0].init.shape[0]
    device = blocks[0].init.device

    def start_lip(name: str) -> Tensor:
        value = L0[name] if isinstance(L0, dict) else L0
        t = torch.as_tensor(value, dtype=torch.float64).to(device).reshape(-1)
        if t.numel() not in (1, B) or not bool((t > 0).all()):
            raise InputError(f"L0 must be positive, one value or one per image ({B}), got {t.numel()} values")
        return t.expand(B).clone()

    lips = {b.name: start_lip(b.name) for b in blocks}

    def full_objective(smooth: Tensor, sub_state: dict[str, Tensor], index: Tensor) -> Tensor:
        total = smooth.detach().to(torch.float64)
        for b in blocks:
            if b.penalty is not None:
                args = (sub_state[b.name], index) if b.indexed else (sub_state[b.name],)
                total = total + b.penalty(*args).detach().to(torch.float64)
        return total

    def statistics(objective: Tensor, idx: Tensor) -> dict[str, Tensor]:
        return {"objective": objective, **{f"L_{name}": lip[idx] for name, lip in lips.items()}}

    all_idx = torch.arange(B, device=device)
    with torch.no_grad(), ieee_float32():
        phi = make_partial(blocks[0].name, state, all_idx)
        f_init = phi(state[blocks[0].name], all_idx)
        initial = statistics(full_objective(f_init, state, all_idx), all_idx)

    # (f, grad f) at every image's current point, carried from one iteration to the next when
    # there is one block (the partial is then the same function in every iteration).
    one_block = len(blocks) == 1
    known: tuple[Tensor, Tensor] | None = None

    def step(idx: Tensor, history: History) -> Report:
        nonlocal known
        sub = {k: v[idx] for k, v in state.items()}
        previous = {k: v.clone() for k, v in sub.items()}
        moved = torch.zeros(idx.numel(), dtype=torch.bool, device=device)
        f_now = None
        for block in blocks:
            phi = make_partial(block.name, sub, idx)
            lip = lips[block.name][idx].clone()
            v = sub[block.name]
            start = (known[0][idx], known[1][idx]) if known is not None else None
            for k in range(block.steps):
                again = one_block or k + 1 < block.steps  # will the next step use this same partial?
                v, f_now, accepted, stepped, start = _backtracking_step(phi, block, v, lip, idx, eta_up, max_tries,
                                                                        start, again)
                lip[stepped] *= eta_down
                moved |= accepted
            if one_block:
                if known is None:
                    known = (torch.empty(B, dtype=start[0].dtype, device=device), torch.empty_like(state[block.name]))
                known[0][idx], known[1][idx] = start
            lips[block.name][idx] = lip
            sub[block.name] = v
        for k in state:
            state[k][idx] = sub[k]
        with torch.no_grad():
            still = sum(sq_norm(sub[k] - previous[k], dtype=None) for k in sub) == 0
            value = full_objective(f_now, sub, idx)
            flat = objective_flat(history, value, idx, tol, window)
        return Report(statistics(value, idx), converged=(flat | still) & moved, stalled=~moved)

    record = iterate(step, initial, max_iter, callback)
    return SolveState(variables=state, record=record, lipschitz=lips)


def _backtracking_step(phi: Partial, block: Block, v: Tensor, lip: Tensor, idx: Tensor, eta_up: float,
                       max_tries: int, start: tuple[Tensor, Tensor] | None = None,
                       carry: bool = False) -> tuple[Tensor, Tensor, Tensor, Tensor, tuple[Tensor, Tensor] | None]:
    """One proximal-gradient step of ``block`` for every active image, with backtracking.

    ``lip`` ``[b]`` is updated in place on failed tries.  ``start`` is ``(f(v), grad f(v))``
    if already known (else both are computed: one forward and one backward pass).  With
    ``carry`` the candidates are evaluated with autograd on and the accepted ones are
    differentiated at once, so ``(f, grad f)`` at the new point come back for the next step
    of the same partial: a backward pass instead of a second forward and backward pass at
    the point just evaluated.

    Returns the new value (the old one where all ``max_tries`` tries failed), its smooth
    objective, the accepted mask, the mask of accepted steps that changed the value, and
    ``(f, grad f)`` at the new value (``None`` without ``carry``).
    """
    device = v.device
    rows_all = torch.arange(v.shape[0], device=device)
    if start is None:
        v = v.detach().requires_grad_(True)
        with torch.enable_grad():
            f0 = phi(v, rows_all)
            (grad,) = torch.autograd.grad(f0.sum(), v)
    else:
        f0, grad = start
    v = v.detach()
    f0 = f0.detach()
    new = v.clone()
    f_new = f0.clone()
    grad_new = grad.clone() if carry else None
    accepted = torch.zeros(v.shape[0], dtype=torch.bool, device=device)
    stepped = torch.zeros_like(accepted)
    todo = rows_all
    for _try in range(max_tries):
        with torch.no_grad():
            step = rows_like(1.0 / lip[todo], v)
            cand = v[todo] - step * grad[todo]
            if block.prox is not None:
                cand = block.prox(cand, step, idx[todo]) if block.indexed else block.prox(cand, step)
        with torch.set_grad_enabled(carry):
            cand.requires_grad_(carry)
            f_cand = phi(cand, todo)
        with torch.no_grad():
            diff = cand.detach() - v[todo]
            bound = (
                f0[todo].to(torch.float64)
                + (grad[todo] * diff).reshape(todo.numel(), -1).sum(1).to(torch.float64)
                + 0.5 * lip[todo] * sq_norm(diff, dtype=None).to(torch.float64)
            )
            # A candidate equal to the current point passes the test exactly (f(v) <= f(v)); only
            # rounding can say otherwise (f of a sub-batch may differ from f of the whole batch in
            # the last bits), so accept it: the image then stops on the zero change instead of
            # spending all max_tries evaluations.
            still = (diff.reshape(todo.numel(), -1) == 0).all(1)
            ok = (torch.isfinite(f_cand) & (f_cand.to(torch.float64) <= bound)) | still
            good = todo[ok]
        if carry and bool(ok.any()):
            with torch.enable_grad():
                (g,) = torch.autograd.grad(f_cand[ok].sum(), cand)
            grad_new[good] = g[ok]
        with torch.no_grad():
            new[good] = cand.detach()[ok]
            f_new[good] = f_cand.detach()[ok]
            accepted[good] = True
            stepped[todo[ok & ~still]] = True
            lip[todo[~ok]] *= eta_up
            todo = todo[~ok]
        if todo.numel() == 0:
            break
    return new, f_new, accepted, stepped, ((f_new, grad_new) if carry else None)
