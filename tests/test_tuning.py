"""Parameter choice: grid search (one batch), the discrepancy principle, grids."""

from __future__ import annotations

import math

import pytest
import torch
from tests.conftest import tomography64

from genprior.choice.discrepancy import discrepancy_per_image
from genprior.choice.grids import default_grid, paper_grid, parse_grid, step_past_edge
from genprior.choice.tuning import grid_search, noise_norm, solve_grid
from genprior.methods import hard, relaxed, tikhonov

SIGMA = 0.05


@pytest.fixture
def problem64(rng):
    return tomography64(rng, sigma=SIGMA, bump=(slice(4, 9), slice(6, 10), 0.3))


def _exact_tikhonov_residual(physics, y, lam):
    n = 256
    eye = torch.eye(n, dtype=torch.float64).reshape(n, 1, 16, 16)
    A = physics.A(eye).reshape(n, -1).T  # [m, n]
    x = torch.linalg.solve(A.T @ A + lam * torch.eye(n, dtype=torch.float64), A.T @ y.reshape(y.shape[0], -1).T)
    return (A @ x - y.reshape(y.shape[0], -1).T).norm(dim=0)  # [B]


def _lam_star(physics, y, target, per_image=False):
    """Bisection (in log lam) for the lam whose residual equals the target: the known answer."""
    lo, hi = math.log(1e-6), math.log(1e3)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        r = _exact_tikhonov_residual(physics, y, math.exp(mid))
        value = r if per_image else r.mean()
        if value.mean() < target:
            lo = mid
        else:
            hi = mid
    return math.exp(0.5 * (lo + hi))


def test_grid_points_equal_separate_runs(problem64):
    physics, g, x, y = problem64
    sol = solve_grid(physics, y, "hard", {"lam": [0.1, 0.001]}, g, keep_x=True, seed=7, max_iter=30)
    alone = hard(physics, y, g, lam=0.001, seed=7, max_iter=30)
    assert torch.allclose(sol.x[1], alone.x, atol=1e-9)
    chunked = solve_grid(physics, y, "hard", {"lam": [0.1, 0.001]}, g, keep_x=True, seed=7, max_iter=30, max_batch=3)
    assert torch.allclose(chunked.x, sol.x, atol=1e-9)
    assert sol.residual.shape == (2, 3) and sol.iterations.shape == (2, 3)


def test_grid_search_reports_psnr_and_residual(problem64):
    physics, g, x, y = problem64
    out = grid_search(physics, y, x, "relaxed", {"lam": [1.0, 0.1], "mu": [0.1, 0.01]}, g, sigma=SIGMA,
                      x_init="generator", max_iter=20)
    assert len(out["table"]) == 4 and out["criterion"] == "psnr"
    assert out["best_psnr"] == max(r["psnr"] for r in out["table"])
    assert all({"lam", "mu", "psnr", "psnr_std", "residual", "iterations"} <= set(r) for r in out["table"])
    assert out["noise_norm"] == pytest.approx(SIGMA * math.sqrt(y[0].numel()))
    # the residual grows with lam (less data fit)
    by = {(r["lam"], r["mu"]): r["residual"] for r in out["table"]}
    assert by[(1.0, 0.1)] > by[(0.1, 0.1)]


def test_discrepancy_lands_within_a_grid_step_of_the_noise_level(problem64):
    physics, g, x, y = problem64
    target = noise_norm(SIGMA, y)
    lam_star = _lam_star(physics, y, target)
    grid = paper_grid(2.0, 0.5, 1e-3)
    out = grid_search(physics, y, x, "tikhonov", {"lam": grid}, criterion="discrepancy", sigma=SIGMA,
                      max_iter=2000, tol=1e-14)
    chosen = out["best"]["lam"]
    assert abs(math.log(chosen / lam_star)) <= math.log(2.0) + 1e-9  # within one grid step (factor 2)
    assert abs(out["best_residual"] - target) == min(abs(r["residual"] - target) for r in out["table"])
    assert "psnr_choice" in out and out["psnr_choice"]["psnr"] >= out["best_psnr"]
    # no ground truth needed
    blind = grid_search(physics, y, None, "tikhonov", {"lam": grid}, criterion="discrepancy", sigma=SIGMA,
                        max_iter=2000, tol=1e-14)
    assert blind["best"] == out["best"] and "best_psnr" not in blind


def test_discrepancy_per_image(problem64):
    physics, g, x, y = problem64
    target = noise_norm(SIGMA, y)
    grid = paper_grid(2.0, 0.5, 1e-3)
    r = discrepancy_per_image(physics, y, "tikhonov", SIGMA, grid, max_iter=2000, tol=1e-14, max_batch=20)
    assert r.x.shape == x.shape and len(r.params["lam"]) == 3 and r.params["lam_choice"] == "discrepancy"
    for b in range(3):
        lam_star = _lam_star(physics, y[b : b + 1], target, per_image=True)
        assert abs(math.log(r.params["lam"][b] / lam_star)) <= math.log(2.0) + 1e-9
        alone = tikhonov(physics, y[b : b + 1], lam=r.params["lam"][b], max_iter=2000, tol=1e-14)
        assert torch.allclose(alone.x, r.x[b : b + 1], atol=1e-6)
    res = (physics.A(r.x) - y).flatten(1).norm(dim=1)
    assert torch.allclose(res, torch.tensor(r.params["residual"], dtype=torch.float64))


def test_discrepancy_with_a_generative_method(problem64):
    # Each image's lam is the grid value whose residual ||A x - y|| (recomputed here from a separate
    # run per grid value) is closest to sigma sqrt(m); the image kept is that run's.
    physics, g, x, y = problem64
    grid = [10.0, 3.0, 1.0, 0.3, 0.1, 0.03, 0.01]
    fixed = {"mu": 0.01, "x_init": "generator", "max_iter": 10}
    r = discrepancy_per_image(physics, y, "relaxed", SIGMA, grid, g, **fixed)
    assert r.z.shape == (3, 3) and r.params["lam_grid"] == grid
    runs = [relaxed(physics, y, g, lam=lam, **fixed) for lam in grid]
    with torch.no_grad():
        residual = torch.stack([(physics.A(run.x) - y).flatten(1).norm(dim=1) for run in runs])  # [G, B]
    target = noise_norm(SIGMA, y)
    closest = (residual - target).abs().argmin(0)
    assert r.params["lam"] == [grid[int(i)] for i in closest]
    assert len(set(r.params["lam"])) > 1 and not set(r.params["lam"]) & {grid[0], grid[-1]}  # inside the grid
    for b, i in enumerate(closest.tolist()):
        assert r.params["residual"][b] == pytest.approx(float(residual[i, b]), rel=1e-9)
        assert torch.allclose(r.x[b], runs[i].x[b], atol=1e-8)


def test_grids():
    assert paper_grid(0.4, 0.5, 0.05) == [0.4, 0.2, 0.1, 0.05]
    grid = parse_grid(["lam=1:0.5:0.2", "mu=0.1, 0.01"])
    assert grid == {"lam": [1.0, 0.5, 0.25], "mu": [0.1, 0.01]}
    shapes = default_grid("relaxed", 56)
    assert shapes["lam"][0] == 10.0 and shapes["lam"][1] == 5.0 and min(shapes["mu"]) >= 1e-3
    assert any(abs(v - 0.390625) < 1e-12 for v in paper_grid(100, 0.5, 1e-4))  # the authors' 0.39
    mnist = default_grid("hard", 28)
    assert mnist["lam"][1] == 0.25
    with pytest.raises(ValueError, match="NAME=start:factor:floor"):
        parse_grid(["lam"])
    with pytest.raises(ValueError, match="cannot read grid"):
        parse_grid(["lam=a,b"])


def test_step_past_edge_steps_out_from_the_end_a_choice_sits_on():
    values = [0.4, 0.2, 0.1]
    assert step_past_edge("tikhonov", "lam", values, 0.4, 2.0) == pytest.approx(0.8)
    assert step_past_edge("tikhonov", "lam", values, 0.1, 2.0) == pytest.approx(0.05)
    assert step_past_edge("tikhonov", "lam", values, 0.2, 2.0) is None  # inside: nothing to grow
    assert step_past_edge("tikhonov", "mu", values, 0.4, 2.0) is None  # not a parameter of tikhonov: no value is allowed


def test_tuning_bad_input(problem64):
    physics, g, x, y = problem64
    with pytest.raises(ValueError, match="fix the others.*mu"):
        grid_search(physics, y, x, "relaxed", {"lam": [1.0], "mu": [0.1, 0.01]}, g, criterion="discrepancy",
                    sigma=SIGMA)
    with pytest.raises(ValueError, match="needs the noise level"):
        grid_search(physics, y, x, "tv", {"lam": [1.0]}, criterion="discrepancy")
    with pytest.raises(ValueError, match="needs the ground truth"):
        grid_search(physics, y, None, "tv", {"lam": [1.0]})
    with pytest.raises(ValueError, match="has no parameter.*mu"):
        grid_search(physics, y, x, "hard", {"mu": [1.0]}, g)
    with pytest.raises(ValueError, match="needs a generator"):
        solve_grid(physics, y, "hard", {"lam": [1.0]}, None)
    with pytest.raises(ValueError, match="unknown criterion"):
        grid_search(physics, y, x, "tv", {"lam": [1.0]}, criterion="ssim")
    with pytest.raises(ValueError, match="empty"):
        solve_grid(physics, y, "tv", [])
