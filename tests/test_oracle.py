"""The oracle choice of lam (and mu) per image, best PSNR against the truth, on a grid grown per image."""

from __future__ import annotations

import pytest
import torch
from tests.conftest import tomography64

from genprior.choice.oracle import oracle_choice, oracle_lam
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
    assert out.solves == sum(len(t["lam"]) for t in out.tried) < len(wide) * y.shape[0]
    assert all(t["lam"][0] == 64.0 and t["lam"] == sorted(t["lam"], reverse=True) for t in out.tried)


def test_the_oracle_keeps_each_images_start_when_it_solves_a_subset(problem64):
    physics, g, x, y = problem64
    out = oracle_lam(physics, y, x, "hard", [0.0156, 0.0039], g, extensions=3, seed=5, max_iter=15)
    assert out.tried[2]["lam"][0] > 0.0156 and out.tried[0]["lam"][-1] < 0.0039  # image 2 went up alone, the others down
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
    with pytest.raises(ValueError, match="two values of mu"):
        oracle_choice(physics, y, x, "relaxed", {"lam": [1.0, 0.25], "mu": [0.1]})
    with pytest.raises(ValueError, match="at least one parameter"):
        oracle_choice(physics, y, x, "tikhonov", {})


def test_the_2d_oracle_grows_lam_and_mu_per_image_to_the_best_of_a_wide_product_grid(problem64):
    physics, g, x, y = problem64
    lams, mus = [4.0 ** k for k in range(4, -6, -1)], [10.0 ** k for k in range(2, -6, -1)]
    options = {"seed": 3, "max_iter": 200}
    points = [(lam, mu) for lam in lams for mu in mus]
    sol = solve_grid(physics, y, "relaxed", [{"lam": lam, "mu": mu} for lam, mu in points], g, keep_x=True, **options)
    scores = psnr(sol.x.reshape(-1, *x.shape[1:]), x.repeat(len(points), 1, 1, 1)).reshape(len(points), -1).double()

    start = {"lam": [16.0, 4.0, 1.0], "mu": [10.0, 1.0, 0.1]}  # both best values lie below this 3x3 start
    out = oracle_choice(physics, y, x, "relaxed", start, g, extensions=3, **options)
    for i, tried in enumerate(out.tried):
        assert tried["lam"][-1] < 1.0 and tried["mu"][-1] < 0.1  # grew past both lower ends
        mine = [k for k, (lam, mu) in enumerate(points) if lam in tried["lam"] and mu in tried["mu"]]
        assert len(mine) == len(tried["lam"]) * len(tried["mu"])  # every point of the image's product was solved
        k = max(mine, key=lambda k: (float(scores[k, i]), -k))  # its best, ties to the largest values
        assert (float(out.lam[i]), float(out.params["mu"][i])) == points[k]
        assert float(out.psnr[i]) == pytest.approx(float(scores[k, i]), abs=1e-9)
        assert float(out.psnr[i]) > float(scores[:, i].max()) - 0.05  # within 0.05 dB of the wide grid's best
        edge = {name: float(out.params[name][i]) in (max(v), min(v)) for name, v in tried.items()}
        assert edge == {name: bool(out.edges[name][i]) for name in edge}
    assert out.solves == sum(len(t["lam"]) * len(t["mu"]) for t in out.tried) < len(points) * y.shape[0]
    for i in range(3):  # each image's reconstruction is the solve at its chosen point
        alone = solve_grid(physics, y, "relaxed", [{"lam": float(out.lam[i]), "mu": float(out.params["mu"][i])}], g,
                           keep_x=True, **options)
        assert torch.allclose(alone.x[0, i], out.x[i], atol=1e-9)
