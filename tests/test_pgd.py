"""Projected gradient descent (equation (8))."""

from __future__ import annotations

import pytest
import torch

from genprior.methods import hard, pgd
from genprior.metrics import psnr


def test_pgd_recovers_an_image_in_the_range(tomo16, tiny_generator, rng):
    with torch.no_grad():
        z_true = 0.8 * torch.randn(3, 3, generator=rng)
        x = tiny_generator(z_true)
        y = tomo16.A(x)
    r = pgd(tomo16, y, tiny_generator, max_iter=150, tol=1e-7)
    assert psnr(r.x, x).min() > 30
    hist = r.objective
    for i in range(3):
        col = hist[: int(r.iterations[i]) + 1, i]
        assert col[-1] < 1e-2 * col[0]


def test_pgd_decreases_the_hard_objective_with_noise(tomo16, tiny_generator, rng):
    with torch.no_grad():
        x = tiny_generator(torch.randn(2, 3, generator=rng))
        y = tomo16.A(x) + 0.05 * torch.randn(tomo16.A(x).shape, generator=rng)
    r = pgd(tomo16, y, tiny_generator, lam=0.01, max_iter=60)
    assert torch.all(r.final_objective < r.objective[0])
    # it heads for the same kind of point as the hard method
    h = hard(tomo16, y, tiny_generator, lam=0.01, max_iter=200)
    assert torch.all(r.final_objective < 1.2 * h.final_objective)
    assert r.params["eta"] == 1.0 and r.params["inner_iter"] == 10


def test_pgd_restarts_and_batching(tiny_generator, rng):
    from genprior.physics.tomography import Tomography

    physics = Tomography(16).double()  # a new operator: the session-wide tomo16 fixture stays float32
    g = tiny_generator.double()
    with torch.no_grad():
        x = g(torch.randn(3, 3, generator=rng, dtype=torch.float64))
        y = physics.A(x) + 0.05 * torch.randn(physics.A(x).shape, generator=rng, dtype=torch.float64)
    z0 = torch.randn(3, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    batched = pgd(physics, y, g, init=z0, max_iter=15)
    for i in range(3):
        single = pgd(physics, y[i : i + 1], g, init=z0[i : i + 1], max_iter=15)
        assert torch.allclose(single.x, batched.x[i : i + 1], atol=1e-8)
    one = pgd(physics, y, g, seed=4, max_iter=15)
    best = pgd(physics, y, g, seed=4, restarts=3, max_iter=15)
    assert torch.all(best.final_objective <= one.final_objective + 1e-9)


def test_pgd_bad_input(tomo16, tiny_generator):
    y = torch.zeros(1, *tomo16.out_shape)
    with pytest.raises(ValueError, match="eta must be finite and > 0"):
        pgd(tomo16, y, tiny_generator, eta=0.0)
    with pytest.raises(ValueError, match=r"inner_iter must be >= 1 \(an integer\)"):
        pgd(tomo16, y, tiny_generator, inner_iter=0)
    with pytest.raises(ValueError, match="needs a generator"):
        pgd(tomo16, y, None)
