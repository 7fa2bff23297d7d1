"""The denoiser and diffusion methods on Gaussian data, where everything is known in closed form.

For data ``x ~ N(m, C)`` the MMSE denoiser is linear, ``D(x, sigma) = m + C (C + sigma^2 I)^{-1} (x - m)``
(:class:`~genprior.models.gaussian_denoiser.GaussianDenoiser`), and for ``y = A x + sigma_n e`` the posterior is Gaussian with mean
``mu = m + C A^T (A C A^T + sigma_n^2 I)^{-1} (y - A m)``.  With that denoiser, pnp and red reach
the posterior mean (red: of the prior ``N(m, C + sigma^2 I)`` it regularises with, which tends to
it as sigma -> 0), and the sample means of diffpir, ddrm and dps approach it; the tolerances below
were measured (16 pixels, 8 measurements, sigma_n = 0.1) and are stated relative to the distance
of the prior mean from the posterior mean.
"""

from __future__ import annotations

import pytest
import torch

import genprior as gp
from genprior.errors import InputError
from genprior.models.gaussian_denoiser import GaussianDenoiser

N_SIDE, SIGMA_N = 4, 0.1


@pytest.fixture(scope="module")
def gaussian():
    n = N_SIDE * N_SIDE
    g = torch.Generator().manual_seed(0)
    Q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64))
    C = Q @ torch.diag(torch.logspace(-1.7, -0.3, n, dtype=torch.float64)) @ Q.T
    m = 0.3 + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)
    A = gp.operator("cs", N_SIDE, measurements=8).double()
    matrix = A.A(torch.eye(n, dtype=torch.float64).reshape(n, 1, N_SIDE, N_SIDE)).reshape(n, -1).T
    x = (m[:, None] + torch.linalg.cholesky(C) @ torch.randn(n, 2, generator=g, dtype=torch.float64)).T
    y = x @ matrix.T + SIGMA_N * torch.randn(2, 8, generator=g, dtype=torch.float64)

    def posterior_mean(cov):
        S = matrix @ cov @ matrix.T + SIGMA_N ** 2 * torch.eye(8, dtype=torch.float64)
        return (m + (y - m @ matrix.T) @ torch.linalg.solve(S, matrix @ cov)).reshape(2, 1, N_SIDE, N_SIDE)

    mu = posterior_mean(C)
    distance = (m.reshape(1, 1, N_SIDE, N_SIDE) - mu).flatten(1).norm(dim=1)  # the prior mean's error
    return {"A": A, "y": y, "D": GaussianDenoiser(m.reshape(1, N_SIDE, N_SIDE), C, sigma_min=1e-4, sigma_max=100.0), "mu": mu, "posterior_mean": posterior_mean, "C": C,
            "relative": lambda r: ((r.x - mu).flatten(1).norm(dim=1) / distance).max().item()}


def test_pnp_reaches_the_posterior_mean(gaussian):
    g = gaussian
    r = gp.solve("pnp", g["A"], g["y"], denoiser=g["D"], lam=2 * SIGMA_N ** 2, sigma_max=1.0, sigma_min=1e-3,
                 steps=1000)
    assert g["relative"](r) < 0.01 and (r.x - g["mu"]).abs().max() < 5e-3  # measured: 0.008, 0.0025
    assert r.ended == ["finished", "finished"] and not r.converged.any() and r.params["nfe"] == [1000, 1000]
    short = gp.solve("pnp", g["A"], g["y"], denoiser=g["D"], lam=2 * SIGMA_N ** 2, sigma_max=1.0, sigma_min=0.01,
                     steps=24)
    assert g["relative"](short) > g["relative"](r)  # the schedule converges as it lengthens


def test_red_reaches_its_equilibrium_and_the_posterior_mean_as_sigma_falls(gaussian):
    g = gaussian
    errors = []
    for sigma in (0.05, 0.02):
        r = gp.solve("red", g["A"], g["y"], denoiser=g["D"], lam=2 * SIGMA_N ** 2 / sigma ** 2, sigma=sigma, tol=1e-8,
                     max_iter=5000)
        assert r.converged.all() and r.ended == ["converged", "converged"]
        equilibrium = g["posterior_mean"](g["C"] + sigma ** 2 * torch.eye(16, dtype=torch.float64))
        assert (r.x - equilibrium).abs().max() < 1e-5  # measured: 6e-7, 4e-6
        assert r.params["nfe"] == r.iterations.tolist()
        errors.append((r.x - g["mu"]).abs().max().item())
    assert errors[1] < errors[0] < 0.01  # measured: 0.0038, 0.0006


@pytest.mark.parametrize("method, options, tolerance", [
    ("diffpir", {"lam": 2 * SIGMA_N ** 2, "zeta": 1.0, "steps": 50}, 0.25),   # measured: 0.11, 0.15 (400 samples)
    ("ddrm", {"noise_level": SIGMA_N, "steps": 20}, 0.35),                    # measured: 0.20, 0.22
    ("dps", {"zeta": 0.03, "steps": 200}, 0.6),                               # measured: 0.35, 0.36
])
def test_sample_means_approach_the_posterior_mean(gaussian, method, options, tolerance):
    g = gaussian
    r = gp.solve(method, g["A"], g["y"], denoiser=g["D"], samples=400, seed=1, **options)
    assert g["relative"](r) < tolerance
    assert r.ended == ["finished", "finished"] and len(r.params["spread"]) == 2
    assert all(s > 0.05 for s in r.params["spread"])  # samples, not one point: the posterior std is about 0.26
    steps = options["steps"]
    assert r.params["nfe"] == [400 * steps] * 2


def test_denoiser_methods_refuse_what_they_cannot_do(gaussian, tomo16):
    g = gaussian
    with pytest.raises(InputError, match="needs a denoiser"):
        gp.solve("pnp", g["A"], g["y"])
    with pytest.raises(InputError, match="outside its trained range"):
        gp.solve("pnp", g["A"], g["y"], denoiser=g["D"], sigma_max=500.0)
    with pytest.raises(InputError, match="ddrm needs `noise_level=`"):
        gp.solve("ddrm", g["A"], g["y"], denoiser=g["D"])
    y = torch.zeros(1, *tomo16.out_shape)
    with pytest.raises(InputError, match="ddrm needs an operator with an exact SVD"):
        gp.solve("ddrm", tomo16, y, denoiser=lambda x, s: x, noise_level=0.1)
    with pytest.raises(InputError, match="made for images of shape"):
        gp.solve("pnp", tomo16, y, denoiser=g["D"])


@pytest.mark.parametrize("method, name", [("dps", "zeta"), ("diffpir", "lam")])
def test_a_per_image_step_acts_on_its_own_image_only(gaussian, method, name):
    # grid search hands one value per image: each image must run as it would with that value alone
    g = gaussian
    run = lambda value: gp.solve(method, g["A"], g["y"], denoiser=g["D"], samples=3, steps=10, seed=1,  # noqa: E731
                                 **{name: value})
    both = run(torch.tensor([0.01, 0.2], dtype=torch.float64))
    assert torch.allclose(both.x[0], run(0.01).x[0], atol=1e-12)
    assert torch.allclose(both.x[1], run(0.2).x[1], atol=1e-12)
    assert not torch.allclose(run(0.01).x[1], run(0.2).x[1], atol=1e-3)


def test_pnp_refuses_a_rising_noise_schedule_as_a_user_error(gaussian):
    from genprior.errors import InputError

    with pytest.raises(InputError, match=r"sigma_min \(0.3\) must not exceed sigma_max \(0.2\)"):
        gp.solve("pnp", gaussian["A"], gaussian["y"], denoiser=gaussian["D"], sigma_min=0.3, sigma_max=0.2)
