"""Sparse and sparse-TV deviations (PALM, Algorithm 3), the TV prox, restarts."""

from __future__ import annotations

import pytest
import torch
from tests.conftest import tomography64

from genprior.methods import hard, relaxed, sparse, sparse_tv
from genprior.physics.finite_differences import tv_norm
from genprior.solvers.tv_prox import WarmTVProx, tv_prox


@pytest.fixture
def problem64(rng):
    """Tomography of images slightly off the range of the tiny generator, float64."""
    return tomography64(rng, sigma=0.02, bump=(slice(5, 8), slice(5, 8), 0.5))  # a sparse feature G cannot make


def _monotone(result, slack=1e-9):
    for i in range(len(result)):
        h = result.objective[:, i]
        h = h[~torch.isnan(h)]
        assert h[-1] < h[0]
        assert torch.all(h[1:] <= h[:-1] * (1 + 1e-7) + slack)


def test_sparse_decreases_objective_and_uses_u(problem64):
    physics, g, x, y = problem64
    r = sparse(physics, y, g, lam=0.05, mu=0.1, max_iter=150)
    _monotone(r)
    assert r.u is not None and r.u.shape == x.shape
    assert (r.u != 0).any() and (r.u == 0).float().mean() > 0.3  # sparse, not empty
    assert torch.allclose(r.x, g(r.z) + r.u)
    # the recorded objective is ||A x - y||^2 + lam ||u||_1 + lam mu ||z||^2
    from genprior.physics.fidelity import SquaredL2

    value = SquaredL2()(physics, r.x, y) + 0.05 * r.u.abs().flatten(1).sum(1) + 0.005 * r.z.pow(2).sum(1)
    assert torch.allclose(r.final_objective, value, rtol=1e-9)


def test_sparse_tv_decreases_objective(problem64):
    physics, g, x, y = problem64
    r = sparse_tv(physics, y, g, lam=0.05, mu=0.1, max_iter=80)
    h = r.objective
    for i in range(len(r)):
        col = h[: int(r.iterations[i]) + 1, i]
        assert col[-1] < 0.9 * col[0]
        # the TV prox is inexact (a few warm-started inner iterations): allow tiny increases
        assert torch.all(col[1:] <= col[:-1] * (1 + 1e-4))
    assert r.params["tv_prox_iter"] == 50


def test_sparse_with_huge_lambda_equals_hard(problem64):
    # lam -> infinity forces u = 0; with lam * mu = alpha the objective is hard's.
    physics, g, x, y = problem64
    z0 = torch.randn(3, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    alpha, lam = 0.01, 1e8
    h = hard(physics, y, g, lam=alpha, init=z0, max_iter=60, solver="backtracking")  # Algorithm 1 = 3 at u = 0
    s = sparse(physics, y, g, lam=lam, mu=alpha / lam, init=z0, max_iter=60)
    assert torch.all(s.u == 0)
    assert torch.allclose(s.x, h.x, atol=1e-10)
    assert torch.equal(s.iterations, h.iterations)


def test_relaxed_in_u_coordinates_has_the_same_minimiser(problem64):
    physics, g, x, y = problem64
    z0 = torch.zeros(3, 3, dtype=torch.float64)
    a = relaxed(physics, y, g, lam=2.0, mu=0.01, init=z0, x_init="generator", coordinates="x", solver="backtracking",
                max_iter=3000, tol=1e-12)
    b = relaxed(physics, y, g, lam=2.0, mu=0.01, init=z0, x_init="generator", coordinates="u", solver="backtracking",
                max_iter=3000, tol=1e-12)
    assert torch.allclose(a.x, b.x, atol=1e-4)
    assert (b.iterations < a.iterations).all()  # and it gets there sooner at large lam
    c = relaxed(physics, y, g, lam=2.0, mu=0.01, init=z0, x_init="generator", x_steps=3, max_iter=5)
    assert c.params["x_steps"] == 3


def test_batched_sparse_equals_one_by_one(problem64):
    physics, g, x, y = problem64
    z0 = torch.randn(3, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    for solve in (sparse, sparse_tv):
        batched = solve(physics, y, g, lam=0.05, mu=0.1, init=z0, max_iter=20)
        for i in range(3):
            single = solve(physics, y[i : i + 1], g, lam=0.05, mu=0.1, init=z0[i : i + 1], max_iter=20)
            assert torch.allclose(single.x, batched.x[i : i + 1], atol=1e-8)
            assert int(single.iterations[0]) == int(batched.iterations[i])


@pytest.mark.parametrize("method, params", [(hard, {"lam": 0.01}), (relaxed, {"lam": 0.4, "mu": 0.1}),
                                            (sparse, {"lam": 0.05, "mu": 0.1})])
def test_restarts_never_worse_than_a_single_start(method, params, problem64):
    physics, g, x, y = problem64
    one = method(physics, y, g, seed=3, max_iter=40, **params)
    best = method(physics, y, g, seed=3, restarts=4, max_iter=40, **params)
    assert torch.all(best.final_objective <= one.final_objective + 1e-9)
    assert best.params["restarts"] == 4 and len(best.params["chosen_start"]) == 3
    assert best.x.shape == one.x.shape and best.objective.shape[1] == 3


def test_restart_codes_can_be_given(problem64):
    # Given codes [K, B, d] are the K starts actually used: each image keeps the start whose own
    # run (from that code alone) ends lowest, and its record is that run's.
    physics, g, x, y = problem64
    codes = torch.randn(3, 3, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    codes[1] *= 3  # a poor start, so that the starts' final objectives differ clearly
    r = hard(physics, y, g, lam=0.01, init=codes, restarts=3, max_iter=5, solver="backtracking")
    assert r.params["restarts"] == 3
    alone = [hard(physics, y, g, lam=0.01, init=codes[k], max_iter=5, solver="backtracking") for k in range(3)]
    finals = torch.stack([a.final_objective for a in alone])  # [K, B]
    assert r.params["chosen_start"] == finals.argmin(0).tolist()
    assert len(set(r.params["chosen_start"])) > 1  # the images keep different starts here
    with torch.no_grad():  # row 0 of the kept history: f(z) = ||A G(z) - y||^2 + lam ||z||^2 at the chosen code
        start = codes[r.params["chosen_start"], torch.arange(3)]
        f0 = (physics.A(g(start)) - y).flatten(1).pow(2).sum(1) + 0.01 * start.pow(2).sum(1)
    assert torch.allclose(r.objective[0], f0, rtol=1e-12)
    for b, k in enumerate(r.params["chosen_start"]):
        assert torch.allclose(r.x[b], alone[k].x[b], atol=1e-8) and torch.allclose(r.z[b], alone[k].z[b], atol=1e-8)
        assert int(r.iterations[b]) == int(alone[k].iterations[b])
        assert torch.allclose(r.final_objective[b], alone[k].final_objective[b], rtol=1e-10)
    two = hard(physics, y, g, lam=0.01, init=codes[:2], restarts=2, max_iter=5, solver="backtracking")
    assert two.params["chosen_start"] == finals[:2].argmin(0).tolist()
    with pytest.raises(ValueError, match="hold 2 starts per image but restarts=3"):
        hard(physics, y, g, init=codes[:2], restarts=3)


def test_tv_prox_matches_a_long_run_and_warm_start_helps(rng):
    v = torch.zeros(2, 1, 12, 12, dtype=torch.float64)
    v[:, :, 3:9, 3:9] = 1.0
    v += 0.2 * torch.randn(v.shape, generator=rng, dtype=torch.float64)
    c = torch.tensor([0.1, 0.3], dtype=torch.float64)

    def energy(u):
        return 0.5 * (u - v).pow(2).flatten(1).sum(1) + c * tv_norm(u)

    exact, p = tv_prox(v, c, n_iter=3000)
    cold, _ = tv_prox(v, c, n_iter=5)
    warm, _ = tv_prox(v, c, n_iter=5, p0=p)
    assert torch.all(energy(exact) < energy(v))
    assert torch.all(energy(warm) - energy(exact) <= energy(cold) - energy(exact))
    assert torch.all(energy(warm) - energy(exact) < 1e-6 * energy(exact))
    zero, _ = tv_prox(v, torch.zeros(2, dtype=torch.float64))
    assert torch.equal(zero, v)
    prox = WarmTVProx(c, v, n_iter=5)
    out = prox(v[1:], torch.ones(1, 1, 1, 1, dtype=torch.float64), torch.tensor([1]))
    assert out.shape == (1, 1, 12, 12) and prox.dual[0].abs().sum() == 0 and prox.dual[1].abs().sum() > 0


# -- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize("method", [sparse, sparse_tv])
def test_sparse_refuses_bad_parameters(method, problem64):
    physics, g, x, y = problem64
    with pytest.raises(ValueError, match="mu must be finite and >= 0"):
        method(physics, y, g, mu=-0.1)
    with pytest.raises(ValueError, match="lam must be finite and >= 0"):
        method(physics, y, g, lam=-1.0)
    with pytest.raises(ValueError, match="restarts must be >= 1"):
        method(physics, y, g, restarts=0)
    with pytest.raises(ValueError, match="needs a generator"):
        method(physics, y, None)
    with pytest.raises(ValueError, match="unknown u initialisation"):
        method(physics, y, g, u_init="ones")
    with pytest.raises(ValueError, match="unknown u initialisation 'generator'"):
        method(physics, y, g, u_init="generator")
