"""Data fidelities: values, gradients and conjugate proxes against their formulas, and each one
minimised by the methods on a small tomography problem (against a dense or float64 reference)."""

from __future__ import annotations

import pytest
import torch

import genprior as gp
from genprior.errors import InputError
from genprior.physics.fidelity import PoissonLikelihood, SquaredL2, WeightedL2


@pytest.fixture(scope="module")
def tomo8():
    return gp.operator("tomography", 8)


def _dense(op) -> torch.Tensor:
    n = 64
    basis = torch.eye(n, dtype=torch.float64).reshape(n, 1, 8, 8)
    with torch.no_grad():
        return op.double().A(basis).reshape(n, -1).T  # [m, n]


def _phantom(b: int = 2) -> torch.Tensor:
    x = torch.zeros(b, 1, 8, 8, dtype=torch.float64)
    x[:, :, 2:6, 3:6] = 0.8
    x[1, :, 1:3, 1:3] = 0.5
    return x


@pytest.mark.parametrize("fidelity", [SquaredL2(), WeightedL2(torch.linspace(0.5, 2.0, 6)),
                                      PoissonLikelihood(scale=3.0, background=0.2)])
def test_conjugate_prox_satisfies_moreau(fidelity):
    """``prox_{s d*}(p) = p - s prox_{d / s}(p / s)``; the second minimises ``d(v, y) / s + ||v - p / s||^2 / 2``,
    which is separable and convex: its root ``d'(v) / s + v - p / s = 0`` is found by bisection per entry."""
    g = torch.Generator().manual_seed(0)
    y = torch.rand(2, 6, generator=g, dtype=torch.float64) + 0.1
    p = torch.randn(2, 6, generator=g, dtype=torch.float64)
    s = 0.7
    floor = -getattr(fidelity, "background", 100.0) + 1e-12  # the Poisson mean u + b must stay positive
    low, high = torch.full_like(p, floor), torch.full_like(p, 100.0)

    def slope(v):
        v = v.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(fidelity.measured(v, y).sum(), v)
        return grad / s + v.detach() - p / s

    for _ in range(200):
        mid = (low + high) / 2
        up = slope(mid) > 0
        high, low = torch.where(up, mid, high), torch.where(up, low, mid)
    expected = p - s * (low + high) / 2
    assert torch.allclose(fidelity.prox_conjugate(p, y, s), expected, atol=1e-9)


def test_squared_l2_value_and_gradient(tomo8):
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(2, 1, 8, 8, generator=g), torch.rand(2, *tomo8.out_shape, generator=g)
    d = SquaredL2()
    assert torch.allclose(d(tomo8, x, y), (tomo8.A(x) - y).flatten(1).double().pow(2).sum(1))
    auto = super(SquaredL2, d).gradient(tomo8, x, y)  # the base class's autograd gradient
    assert torch.allclose(d.gradient(tomo8, x, y), auto, atol=1e-5)


def test_weighted_least_squares_reaches_the_dense_solution(tomo8):
    """Tikhonov and TV with a weighted fidelity; Tikhonov's minimiser solves (A^T W A + lam I) x = A^T W y."""
    x = _phantom()
    A = _dense(tomo8)
    y = (x.reshape(2, -1) @ A.T).reshape(2, *tomo8.out_shape) + 0.02 * torch.randn(
        2, *tomo8.out_shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    weights = lambda y: torch.exp(-y)  # noqa: E731  (CT: inverse variance of log data ~ counts)
    lam = 0.05
    r = gp.solve("tikhonov", tomo8.double(), y, lam=lam, fidelity=WeightedL2(weights), tol=1e-12, max_iter=20_000)
    assert r.converged.all() and r.params["fidelity"] == {"name": "weighted-l2", "weights": "function of y"}
    for b in range(2):
        W = torch.diag(weights(y[b]).reshape(-1))
        expected = torch.linalg.solve(A.T @ W @ A + lam * torch.eye(64, dtype=torch.float64),
                                      A.T @ W @ y[b].reshape(-1))
        assert torch.allclose(r.x[b].reshape(-1), expected, atol=1e-6)
    plain = gp.solve("tikhonov", tomo8.double(), y, lam=lam, tol=1e-12, max_iter=20_000)
    assert not torch.allclose(plain.x, r.x, atol=1e-4)  # the weights matter
    tv = gp.solve("tv", tomo8.double(), y, lam=0.02, fidelity=WeightedL2(weights))
    assert tv.converged.all() and gp.psnr(tv.x, x).mean() > 15


def test_poisson_likelihood_on_photon_counts(tomo8):
    """Counts c y ~ Poisson(c (A x + b)): Tikhonov with the Poisson fidelity reaches the stationary point (the
    minimiser) of its objective, and TV (PDHG with the conjugate prox) converges."""
    x = _phantom()
    op = tomo8.double()
    scale, background = 50.0, 0.1
    with torch.no_grad():
        mean = op.A(x) + background
    y = torch.poisson(scale * mean, generator=torch.Generator().manual_seed(3)) / scale
    d = PoissonLikelihood(scale=scale, background=background)
    lam = 0.5
    r = gp.solve("tikhonov", op, y, lam=lam, fidelity=d, x_init="zero", tol=1e-13, max_iter=50_000)
    assert r.converged.all() and r.params["fidelity"] == {"name": "poisson", "scale": scale, "background": background}

    # the objective is strictly convex on its domain, so a stationary point is the minimiser
    gradient = d.gradient(op, r.x, y) + 2 * lam * r.x
    assert float(gradient.norm()) < 1e-5 * float(d.gradient(op, torch.zeros_like(x), y).norm())
    assert gp.psnr(r.x.clamp(0, 1), x).mean() > 15

    tv = gp.solve("tv", op, y, lam=5.0, fidelity=d)  # the Poisson term is c = 50 times a KL: lam scales with it
    assert tv.converged.all() and gp.psnr(tv.x, x).mean() > 18


def test_bad_fidelity_inputs(tomo8):
    y = -torch.ones(1, *tomo8.out_shape)
    with pytest.raises(InputError, match="Poisson data are counts: y must be >= 0"):
        gp.solve("tikhonov", tomo8, y, fidelity=PoissonLikelihood())
    with pytest.raises(InputError, match="fidelity must be a genprior.physics.fidelity.DataFidelity"):
        gp.solve("tikhonov", tomo8, torch.zeros(1, *tomo8.out_shape), fidelity="l2")
    with pytest.raises(InputError, match="weights must be finite and >= 0"):
        WeightedL2(-torch.ones(3))
    with pytest.raises(InputError, match="no proximal step"):
        WeightedL2(torch.ones(tomo8.out_shape)).prox(tomo8, torch.zeros(1, 1, 8, 8), torch.zeros(1, *tomo8.out_shape),
                                                      1.0)
    with pytest.raises(InputError, match="scale must be a finite number > 0"):
        PoissonLikelihood(scale=0)
