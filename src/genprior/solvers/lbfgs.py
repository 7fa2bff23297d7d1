"""Batched L-BFGS with a backtracking (Armijo) line search, on the one iteration loop.

We minimise a smooth ``f(v)`` for ``B`` independent images, where ``v`` is one or more
named variables (``z``; or ``z`` and ``x``, or ``z`` and ``u``), flattened and joined
into one vector per image.  Iteration ``k`` of image ``b``:

- direction ``p = -H_k g_k`` by the two-loop recursion over the image's last ``memory``
  pairs ``s_i = v_{i+1} - v_i``, ``y_i = g_{i+1} - g_i`` with ``H_0 = gamma I``,
  ``gamma = s^T y / y^T y`` of the newest pair (Nocedal and Wright, Algorithm 7.4);
- line search: the step ``t = 1`` is tried, then ``t *= shrink`` until the
  sufficient-decrease (Armijo) test ``f(v + t p) <= f(v) + c1 t <g, p>`` holds; the
  second try is the minimiser of the quadratic that matches ``f(v)``, ``<g, p>`` and
  ``f(v + t p)``, kept within ``[0.1 t, shrink t]`` (``interpolate``; Nocedal and Wright,
  section 3.5): on Shapes tomography a fifth of the quasi-Newton steps fail their first
  try, and the fitted second try cut the calls of a 30-image hard solve from 275 to 204
  and its seconds by 15-20% (each try is a pass of the generator and the operator;
  benchmarks/RESULTS.md, bench_latent_solvers); off by default: near the minimum the fit
  follows last-bit differences, and a batch and single solves then stopped 6 iterations apart;
- a pair is kept only if ``s^T y > curvature ||s|| ||y||`` (the Armijo test alone does
  not ensure ``s^T y > 0``), so ``H_k`` stays positive definite and ``p`` a descent
  direction.

A trust radius keeps the first quasi-Newton steps near the path of the gradient steps: the
first try of a quasi-Newton step is ``t = min(1, r / ||p||)``, so the step moves ``v`` at
most ``r``.  ``r`` starts at ``trust`` times the length of the image's first accepted step
(Algorithm 1's, below), is doubled after a step cut to it that was accepted at its first
try and decreased ``f`` by at least 3/4 of the quadratic model's predicted decrease
``m(0) - m(t p) = -(t - t^2 / 2) <g, p>`` (exact for the L-BFGS matrix: ``p^T H^{-1} p = -<g, p>``),
and is cut to half the step taken after a step that decreased ``f`` by less than 1/4 of it
(the constants of Nocedal and Wright's Algorithm 4.1); the radius grows by doubling, so
after a few good steps it no longer binds.  Why: on the demo's problem (Shapes tomography,
hard, encoder start) the full step of the second iteration, from one pair, fell into
another basin on 2 of 30 images (F 105.4 against backtracking's 100.9, PSNR 20.5 against
29.6 dB) and on 5 of 100; with ``trust = 0.5`` on none of them, in fewer evaluations
(a fifth of the full steps failed their first try), benchmarks/RESULTS.md,
bench_latent_solvers.  ``trust = 0`` takes full steps from the start.

An image with no pairs (the first iteration, or after a reset) takes the paper's step
instead: ``p = -g / L`` with the backtracking test of Algorithm 1,
``f(v - g / L) <= f(v) - ||g||^2 / (2 L)`` (Armijo with ``c1 = 1/2``), ``L *= eta_up`` per
failed try and ``L *= eta_down`` after success, ``L`` starting at ``L0``: so the first
step is exactly Algorithm 1's.  A quasi-Newton step whose ``max_tries`` tries all fail
(or a direction that is not a descent direction, which rounding can produce) clears the
image's pairs, and the next iteration is a gradient step; an image whose gradient
step fails ``max_tries`` times stalls.

Stopping is the rule of every solver here (:mod:`genprior.solvers.stopping`): the
objective fell by less than ``tol`` (relative) per iteration over ``window`` iterations,
or a step left ``v`` unchanged.  The accepted candidate is evaluated with autograd on,
so the gradient at the new point costs one backward pass (no second forward pass).
Statistics per iteration: ``objective``, ``step`` (the accepted ``t``; for a gradient
step ``1 / L``), ``pairs`` (pairs in memory).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from genprior.errors import InputError
from genprior.solvers.loop import Callback, History, Report, SolveState, iterate
from genprior.solvers.precision import ieee_float32
from genprior.solvers.stopping import OBJECTIVE_TOL, check_stopping, objective_flat

# the trust radius: doubled after a step cut to it whose decrease was >= GOOD_FIT of the model's, else halved
# (to half the step taken) after one whose decrease was < POOR_FIT of it (Nocedal and Wright, Algorithm 4.1's constants)
GROWTH, GOOD_FIT, POOR_FIT = 2.0, 0.75, 0.25

# objective(variables of rows, index of those rows in the full batch) -> f per row [b] (float64, differentiable)
Objective = Callable[[dict[str, Tensor], Tensor], Tensor]


def _dot(a: Tensor, b: Tensor) -> Tensor:
    """Row-wise inner products of ``[b, n]`` tensors, summed in float64."""
    return (a.to(torch.float64) * b.to(torch.float64)).sum(-1)


def _two_loop(g: Tensor, S: Tensor, Y: Tensor, rho: Tensor, valid: Tensor) -> Tensor:
    """``H g`` for the L-BFGS matrix of pairs ``S, Y`` ``[b, m, n]`` (newest last; ``valid`` ``[b, m]``)."""
    m = S.shape[1]
    q = g.to(torch.float64)
    w = torch.where(valid, rho, torch.zeros_like(rho))  # [b, m]: 0 for empty slots
    alpha = torch.zeros_like(rho)
    for j in reversed(range(m)):
        alpha[:, j] = w[:, j] * _dot(S[:, j], q)
        q = q - alpha[:, j : j + 1] * Y[:, j].to(torch.float64)
    newest_y = Y[:, -1].to(torch.float64)
    yy = _dot(newest_y, newest_y)
    gamma = torch.where(valid[:, -1] & (yy > 0), 1.0 / (rho[:, -1] * yy).clamp_min(1e-300), torch.ones_like(yy))
    r = gamma.unsqueeze(1) * q
    for j in range(m):
        beta = w[:, j] * _dot(Y[:, j], r)
        r = r + (alpha[:, j] - beta).unsqueeze(1) * S[:, j].to(torch.float64)
    return r


def _new_radius(radius: Tensor, trust: float, step: Tensor, moved: Tensor, quasi: Tensor, at_bound: Tensor,
                actual: Tensor, predicted: Tensor) -> Tensor:
    """The trust radius after an iteration (module docstring), per image ``[b]``.

    ``step``: ``||v_new - v||``; ``moved``: an accepted step that changed ``v``; ``at_bound``: a
    quasi-Newton step cut to the radius and accepted at its first try; ``actual`` and
    ``predicted``: the decrease of ``f`` and that of the quadratic model ``m(t p)``.
    """
    ratio = actual / predicted.clamp_min(1e-300)
    judged = quasi & moved & ~torch.isnan(radius)
    out = torch.where(torch.isnan(radius) & moved, trust * step, radius)  # set by the first accepted step
    out = torch.where(judged & at_bound & (ratio >= GOOD_FIT), out * GROWTH, out)
    return torch.where(judged & (ratio < POOR_FIT), torch.minimum(out, step) / GROWTH, out)


def lbfgs(
    objective: Objective,
    init: dict[str, Tensor],
    max_iter: int = 1000,
    tol: float = OBJECTIVE_TOL,
    memory: int = 10,
    L0: float = 1.0,
    eta_down: float = 0.5,
    eta_up: float = 10.0,
    shrink: float = 0.5,
    c1: float = 1e-4,
    curvature: float = 1e-8,
    max_tries: int = 60,
    window: int = 10,
    interpolate: bool = False,
    trust: float = 0.5,
    callback: Callback | None = None,
) -> SolveState:
    """Minimise ``objective`` from ``init`` by batched L-BFGS (module docstring).

    Args:
        objective: ``f(variables, index) -> [b]``: the variables of ``b`` images (each ``[b, ...]``)
            and their indices in the batch; differentiable with respect to the variables.
        init: the starting variables, each ``[B, ...]`` (one dtype).
        max_iter, tol, window: the cap and the stopping rule (:mod:`genprior.solvers.stopping`).
        memory: pairs ``(s, y)`` kept per image.
        L0, eta_down, eta_up: the gradient step's Lipschitz estimate, as Algorithm 1's.
        shrink: factor of the quasi-Newton step after a failed Armijo test.
        c1: the Armijo constant of the quasi-Newton steps.
        curvature: pairs with ``s^T y <= curvature ||s|| ||y||`` are skipped.
        max_tries: line-search tries per iteration.
        interpolate: after a quasi-Newton step's first failed try, try the minimiser of the quadratic
            model of ``f`` along ``p`` (in ``[0.1 t, shrink t]``) instead of ``shrink t``.
        trust: the trust radius's start, a multiple of the image's first accepted step (module
            docstring); ``0`` turns the radius off (full quasi-Newton steps first, as before).
        callback: called after every iteration (:func:`genprior.solvers.loop.iterate`).

    Returns:
        The final variables and the loop's record (history of ``objective``, ``step``, ``pairs``).
    """
    check_stopping(max_iter, tol, window, max_tries)
    if memory < 1 or not 0 < shrink < 1 or not 0 < c1 < 1 or L0 <= 0 or not trust >= 0:
        raise InputError(f"lbfgs needs memory >= 1, 0 < shrink < 1, 0 < c1 < 1, L0 > 0 and trust >= 0, got {memory}, "
                         f"{shrink}, {c1}, {L0}, {trust}")
    names = list(init)
    first = init[names[0]]
    B, device, dtype = first.shape[0], first.device, first.dtype
    shapes = {k: v.shape[1:] for k, v in init.items()}
    sizes = [int(torch.Size(s).numel()) for s in shapes.values()]
    v = torch.cat([init[k].detach().reshape(B, -1).to(dtype) for k in names], 1).clone()  # [B, n]
    n = v.shape[1]

    def split(flat: Tensor) -> dict[str, Tensor]:
        parts = torch.split(flat, sizes, dim=1)
        return {k: p.reshape(flat.shape[0], *shapes[k]) for k, p in zip(names, parts)}

    def evaluate(flat: Tensor, index: Tensor) -> tuple[Tensor, Tensor]:
        """``f`` at the rows ``flat`` with its graph: ``(f, flat)`` (``flat`` requiring grad)."""
        flat = flat.detach().requires_grad_(True)
        with torch.enable_grad():
            return objective(split(flat), index), flat

    def gradient(f: Tensor, flat: Tensor, rows: Tensor) -> Tensor:
        """``grad f`` at the rows ``rows`` of an evaluation (a backward pass of those rows only)."""
        (g,) = torch.autograd.grad(f[rows].sum(), flat)
        return g[rows]

    all_idx = torch.arange(B, device=device)
    with ieee_float32():
        f_all, flat_all = evaluate(v, all_idx)
        g = gradient(f_all, flat_all, all_idx)
        f = f_all.detach().to(torch.float64)
    del f_all, flat_all
    S = torch.zeros(B, memory, n, dtype=dtype, device=device)
    Y = torch.zeros_like(S)
    rho = torch.zeros(B, memory, dtype=torch.float64, device=device)
    valid = torch.zeros(B, memory, dtype=torch.bool, device=device)
    lip = torch.full((B,), float(L0), dtype=torch.float64, device=device)
    nan = torch.full((B,), float("nan"), dtype=torch.float64, device=device)
    radius = nan.clone()  # the trust radius of each image; NaN until its first accepted step (or trust = 0)
    initial = {"objective": f.clone(), "step": nan.clone(), "pairs": torch.zeros(B, dtype=torch.float64, device=device)}

    def step(idx: Tensor, history: History) -> Report:
        b = idx.numel()
        v0, f0, g0 = v[idx], f[idx], g[idx]
        with torch.no_grad():
            quasi = valid[idx].any(1)
            p = torch.where(quasi.unsqueeze(1), -_two_loop(g0, S[idx], Y[idx], rho[idx], valid[idx]),
                            -g0.to(torch.float64) / lip[idx].unsqueeze(1))
            slope = _dot(g0, p)  # <g, p>, < 0 for a descent direction
            bad = quasi & ~(slope < 0)  # rounding: not a descent direction; take a gradient step instead
            p[bad] = -g0[bad].to(torch.float64) / lip[idx][bad].unsqueeze(1)
            quasi &= ~bad
            slope = _dot(g0, p)
            # the trust radius: the first try moves a quasi-Newton step at most radius (NaN: no bound)
            bound = quasi & ~torch.isnan(radius[idx])
            t = torch.where(bound, (radius[idx] / p.norm(dim=1).clamp_min(1e-300)).clamp(max=1.0), 1.0)
            t_first = t.clone()
            p = p.to(dtype)
            c = torch.where(quasi, c1, 0.5)
            factor = torch.where(quasi, shrink, 1.0 / eta_up)
        accepted = torch.zeros(b, dtype=torch.bool, device=device)
        still = torch.zeros_like(accepted)
        v_new, f_new, g_new = v0.clone(), f0.clone(), g0.clone()
        todo = torch.arange(b, device=device)
        first_try = True
        for _ in range(max_tries):
            cand = v0[todo] + (t[todo].unsqueeze(1) * p[todo].to(torch.float64)).to(dtype)
            f_graph, cand = evaluate(cand, idx[todo])
            f_c = f_graph.detach().to(torch.float64)
            with torch.no_grad():
                # A gradient step too short to change v: stationary to working precision (accepted, it
                # converges); a quasi-Newton step that short: the direction failed (memory cleared below).
                same = (cand == v0[todo]).all(1)
                ok = (torch.isfinite(f_c) & (f_c <= f0[todo] + c[todo] * t[todo] * slope[todo])) | (same & ~quasi[todo])
                good = todo[ok]
            if bool(ok.any()):
                g_new[good] = gradient(f_graph, cand, ok.nonzero().squeeze(1))
            del f_graph
            with torch.no_grad():
                v_new[good], f_new[good] = cand.detach()[ok], f_c[ok]
                accepted[good], still[good] = True, same[ok]
                t_failed = t[todo[~ok]] * factor[todo[~ok]]
                if interpolate and first_try:
                    # the quasi-Newton step's first failed try: the minimiser of the quadratic through
                    # f(0), f'(0) = <g, p> and f(t), kept in [0.1 t, shrink t] (Nocedal and Wright, section 3.5)
                    bad, t0 = todo[~ok], t[todo[~ok]]
                    curv = f_c[~ok] - f0[bad] - slope[bad] * t0  # > 0: the Armijo test failed
                    fit = torch.minimum(torch.maximum(-slope[bad] * t0**2 / (2.0 * curv), 0.1 * t0), shrink * t0)
                    t_failed = torch.where(quasi[bad] & torch.isfinite(curv), fit, t_failed)
                t[todo[~ok]] = t_failed
                first_try = False
                todo = todo[~ok & ~same]
            if todo.numel() == 0:
                break
        with torch.no_grad():
            gradient_step = ~quasi
            lip_old = lip[idx]
            lip_i = lip_old / torch.where(gradient_step, t, torch.ones_like(t))  # L grew by eta_up per failed try
            lip_i = torch.where(gradient_step & accepted & ~still, lip_i * eta_down, lip_i)
            lip[idx] = lip_i
            s_vec, y_vec = v_new - v0, g_new - g0
            if trust > 0:
                radius[idx] = _new_radius(radius[idx], trust, s_vec.double().norm(dim=1), accepted & ~still, quasi,
                                          bound & (t_first < 1) & (t == t_first), f0 - f_new, -(t - t * t / 2) * slope)
            sy = _dot(s_vec, y_vec)
            keep = accepted & ~still & (sy > curvature * s_vec.norm(dim=1).double() * y_vec.norm(dim=1).double())
            S_i, Y_i, rho_i, valid_i = S[idx], Y[idx], rho[idx], valid[idx]
            rows = keep.nonzero().squeeze(1)
            S_i[rows] = torch.cat([S_i[rows, 1:], s_vec[rows].unsqueeze(1)], 1)
            Y_i[rows] = torch.cat([Y_i[rows, 1:], y_vec[rows].unsqueeze(1)], 1)
            rho_i[rows] = torch.cat([rho_i[rows, 1:], (1.0 / sy[rows]).unsqueeze(1)], 1)
            valid_i[rows] = torch.cat([valid_i[rows, 1:], torch.ones_like(valid_i[rows, :1])], 1)
            valid_i[quasi & ~accepted] = False  # a failed quasi-Newton step: start again from a gradient step
            S[idx], Y[idx], rho[idx], valid[idx] = S_i, Y_i, rho_i, valid_i
            v[idx], f[idx], g[idx] = v_new, f_new, g_new
            flat = objective_flat(history, f_new, idx, tol, window)
            stalled = gradient_step & ~accepted
            step_len = torch.where(gradient_step, t / lip_old, t)
            stats = {"objective": f_new, "step": torch.where(accepted, step_len, torch.full_like(t, float("nan"))),
                     "pairs": valid_i.sum(1).to(torch.float64)}
        return Report(stats, converged=(flat | still) & accepted, stalled=stalled)

    record = iterate(step, initial, max_iter, callback)
    return SolveState(variables=split(v), record=record)


__all__ = ["Objective", "lbfgs"]
