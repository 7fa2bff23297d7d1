"""The oracle choice of lam (per image, best PSNR against the truth) on a grid grown per image."""

from __future__ import annotations

import pytest
import torch
from tests.conftest import tomography64

from genprior.choice.oracle import oracle_lam
from genprior.choice.tuning import solve_grid
from genprior.metrics import psnr


@pytest.fixture
def problem64(rng):
    return tomography64(rng, sigma=0.05, bump=(slice(4, 9), slice(6, 10), 0.3))


def test_the_oracle_finds_the_best_lam_of_a_wide_grid_from_a_short_start(problem64):
    physics, _, x, y = problem64
    wide = [4.0 ** k for k in range(4, -9, -1)]
    sol = solve_grid(physics, y, "tikhonov", {"lam": wide}, keep_x=True)
    scores = psnr(sol.x.reshape(-1, *x.shape[1:]), x.repeat(len(wide), 1, 1, 1)).reshape(len(wide), -1)
    best = torch.tensor([wide[int(i)] for i in scores.argmax(0)], dtype=torch.float64)
    assert not torch.isin(best, torch.tensor([wide[0], wide[-1]], dtype=torch.float64)).any()  # a fair reference

    out = oracle_lam(physics, y, x, "tikhonov", [64.0, 16.0], extensions=12)  # starts far above the best
    assert torch.equal(out.lam, best)
    assert torch.allclose(out.psnr, scores.max(0).values.double(), atol=1e-9)
    assert not out.on_edge.any() and out.converged.all()
    assert out.solves == sum(len(t) for t in out.tried) < len(wide) * y.shape[0]
    assert all(t[0] == 64.0 and t == sorted(t, reverse=True) for t in out.tried)


def test_the_oracle_keeps_each_images_start_when_it_solves_a_subset(problem64):
    physics, g, x, y = problem64
    out = oracle_lam(physics, y, x, "hard", [0.0156, 0.0039], g, extensions=3, seed=5, max_iter=15)
    assert out.tried[2][0] > 0.0156 and out.tried[0][-1] < 0.0039  # image 2 went up alone, the others down
    for i, lam in enumerate(out.lam.tolist()):
        alone = solve_grid(physics, y, "hard", {"lam": [lam]}, g, keep_x=True, seed=5, max_iter=15)
        assert torch.allclose(alone.x[0, i], out.x[i], atol=1e-9)


def test_without_extensions_a_choice_on_an_end_is_flagged(problem64):
    physics, _, x, y = problem64
    out = oracle_lam(physics, y, x, "tikhonov", [1e4, 4e3], extensions=0)
    assert out.on_edge.all() and (out.lam == 4e3).all() and out.solves == 2 * y.shape[0]


def test_the_oracle_rejects_bad_input(problem64):
    physics, _, x, y = problem64
    with pytest.raises(ValueError, match="at least two values"):
        oracle_lam(physics, y, x, "tikhonov", [1.0])
    with pytest.raises(ValueError, match="images"):
        oracle_lam(physics, y, x[:1], "tikhonov", [1.0, 0.25])
