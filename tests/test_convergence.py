"""Stopping rules that mean convergence: every method stops near the true minimum.

The problems have minimisers known in closed form: a *linear* generator
``G(z) = W z + b`` makes hard, relaxed and projected gradient quadratic problems (solved
exactly by one dense linear system), Tikhonov is linear least squares, and TV denoising
is a TV prox (computed by FGP, another algorithm).  Each method runs with its default
stopping rule and must stop within a small relative objective gap of the minimum.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genprior.methods import get_method
from genprior.physics.tomography import Tomography

N, D = 16, 4


class LinearGenerator(nn.Module):
    """``G(z) = W z + b`` reshaped to ``[B, 1, N, N]``, float64."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.latent_dim = D
        self.weight = nn.Parameter(0.3 * torch.randn(N * N, D, generator=g, dtype=torch.float64))
        self.bias = nn.Parameter(0.5 + 0.1 * torch.randn(N * N, generator=g, dtype=torch.float64))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (z @ self.weight.T + self.bias).reshape(-1, 1, N, N)


@pytest.fixture(scope="module")
def setup():
    """Tomography (16x16), 3 images slightly off the generator's range, noise 0.05, and dense ``M``."""
    g = torch.Generator().manual_seed(7)
    physics = Tomography(N).double()
    gen = LinearGenerator()
    with torch.no_grad():
        x = gen(torch.randn(3, D, generator=g, dtype=torch.float64))
        x[:, :, 5:9, 5:9] += 0.3  # a feature the generator cannot make
        ax = physics.A(x)
        y = ax + 0.05 * torch.randn(ax.shape, generator=g, dtype=torch.float64)
        M = physics.A(torch.eye(N * N, dtype=torch.float64).reshape(-1, 1, N, N)).reshape(N * N, -1).T  # [m, n]
    return physics, gen, x, y, M


def objective(method: str, M, W, b, y, x, z, lam, mu):
    """The method's objective at ``(x, z)`` per image (float64, the maths written out)."""
    fit = (x.flatten(1) @ M.T - y.flatten(1)).pow(2).sum(1)
    if method == "tikhonov":
        return fit + lam * x.flatten(1).pow(2).sum(1)
    if method in ("hard", "pgd"):
        return fit + lam * z.pow(2).sum(1)
    gz = z @ W.T + b
    return fit + lam * (gz - x.flatten(1)).pow(2).sum(1) + lam * mu * z.pow(2).sum(1)


def minimiser(method: str, M, W, b, y, lam, mu):
    """The exact minimiser ``(x, z)`` per image by one dense linear solve (float64)."""
    Y = y.flatten(1)  # [B, m]
    n = M.shape[1]
    if method == "tikhonov":
        x = torch.linalg.solve(M.T @ M + lam * torch.eye(n, dtype=M.dtype), (Y @ M).T).T
        return x, None
    if method in ("hard", "pgd"):
        MW = M @ W
        z = torch.linalg.solve(MW.T @ MW + lam * torch.eye(D, dtype=M.dtype), ((Y - b @ M.T) @ MW).T).T
        return z @ W.T + b, z
    # relaxed: gradient in x: M^T(Mx - y) + lam (x - W z - b) = 0; in z: lam W^T(W z + b - x) + lam mu z = 0
    top = torch.cat([M.T @ M + lam * torch.eye(n, dtype=M.dtype), -lam * W], 1)
    bottom = torch.cat([-lam * W.T, lam * (W.T @ W + mu * torch.eye(D, dtype=M.dtype))], 1)
    rhs = torch.cat([Y @ M + lam * b, (-lam * b @ W).expand(Y.shape[0], D)], 1)
    sol = torch.linalg.solve(torch.cat([top, bottom]), rhs.T).T
    return sol[:, :n], sol[:, n:]


@pytest.mark.parametrize("method, params, gap", [
    ("tikhonov", {"lam": 0.1}, 1e-6),
    ("hard", {"lam": 0.01}, 1e-6),
    ("pgd", {"lam": 0.0}, 1e-5),
    ("relaxed", {"lam": 0.5, "mu": 0.1}, 1e-5),
    ("relaxed", {"lam": 20.0, "mu": 0.1}, 5e-5),  # large lam: strongly coupled blocks, slow linear rate
    ("relaxed", {"lam": 20.0, "mu": 0.1, "coordinates": "u"}, 1e-5),
])
def test_default_stopping_rule_stops_near_the_true_minimum(setup, method, params, gap):
    physics, gen, _, y, M = setup
    lam, mu = params["lam"], params.get("mu", 0.0)
    extra = {"generator": gen} if method != "tikhonov" else {}
    r = get_method(method).function(physics, y, **extra, **params)
    assert r.converged.all(), f"{method} {params}: {r.iterations.tolist()} iterations, converged {r.converged}"
    W, b = gen.weight.detach(), gen.bias.detach()
    x_star, z_star = minimiser(method, M, W, b, y, lam, mu)
    f_star = objective(method, M, W, b, y, x_star, z_star, lam, mu)
    z = r.z if r.z is not None else None
    f = objective(method, M, W, b, y, r.x.detach().flatten(1), z, lam, mu)
    assert torch.all(f >= f_star * (1 - 1e-9)), "the closed form must be the minimum"
    assert torch.all((f - f_star) <= gap * f_star), f"relative gaps {((f - f_star) / f_star).tolist()}"


def test_algorithm_2_and_u_coordinates_reach_the_same_objective_at_large_lam(setup):
    physics, gen, _, y, _ = setup
    a = get_method("relaxed").function(physics, y, gen, lam=50.0, mu=0.05, coordinates="x", max_iter=20_000)
    b = get_method("relaxed").function(physics, y, gen, lam=50.0, mu=0.05, coordinates="u", max_iter=20_000)
    assert a.converged.all() and b.converged.all()
    assert torch.all((a.final_objective - b.final_objective).abs() <= 1e-3 * b.final_objective)


def test_tv_stops_near_the_tv_prox(setup):
    # Denoising (identity operator): min ||x - y||^2 + lam TV(x) = prox_{(lam / 2) TV}(y), by FGP.
    from genprior.physics.denoising import Identity
    from genprior.physics.finite_differences import tv_norm
    from genprior.solvers.tv_prox import tv_prox

    _, _, x, _, _ = setup
    g = torch.Generator().manual_seed(3)
    y = x + 0.1 * torch.randn(x.shape, generator=g, dtype=torch.float64)
    lam = 0.2
    r = get_method("tv").function(Identity(N).double(), y, lam=lam)
    reference, _ = tv_prox(y, torch.full((3,), lam / 2, dtype=torch.float64), n_iter=20_000)
    f = lambda v: (v - y).flatten(1).pow(2).sum(1) + lam * tv_norm(v)  # noqa: E731
    assert r.converged.all() and torch.all(r.iterations < 5000)
    assert torch.all((f(r.x) - f(reference)) <= 1e-4 * f(reference))


@pytest.mark.parametrize("method, params", [
    ("hard", {"lam": 0.01}), ("relaxed", {"lam": 20.0, "mu": 0.1}), ("tikhonov", {"lam": 0.1}),
    ("sparse", {"lam": 0.5, "mu": 0.1}), ("pgd", {"lam": 0.0}), ("tv", {"lam": 0.05}),
])
def test_a_capped_run_reports_the_images_that_hit_the_cap(setup, method, params):
    physics, gen, _, y, _ = setup
    extra = {"generator": gen} if method not in ("tikhonov", "tv") else {}
    capped = get_method(method).function(physics, y, **extra, **params, max_iter=3)
    assert capped.iterations.eq(3).all() and not capped.converged.any()
    assert capped.n_converged == 0
