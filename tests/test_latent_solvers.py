"""The latent solvers besides the paper's backtracking: L-BFGS and Gauss-Newton (Levenberg-Marquardt).

They minimise the same objectives, so they must reach backtracking's minimum; they stop
per image by the same rule, reject non-finite candidates, and refuse the problems they
do not apply to with one line.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from tests.conftest import TinyAutoencoder, tomography64

from genprior.errors import InputError
from genprior.methods import get_method, hard, relaxed
from genprior.methods.latent_priors import make_latent_prior
from genprior.methods.projection import project_to_range
from genprior.methods.solver_choice import check_solver, solve_smooth
from genprior.methods.sparse import sparse
from genprior.physics.fidelity import PoissonLikelihood, SquaredL2
from genprior.solvers.backtracking import Block, block_backtracking
from genprior.solvers.gauss_newton import forward_jacobian, gauss_newton
from genprior.solvers.lbfgs import lbfgs


@pytest.fixture
def problem64(rng):
    physics, g, x, y = tomography64(rng, sigma=0.05)
    return physics, g, x, y


def _rel_gap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs() / b.abs()


@pytest.mark.parametrize("solver", ["lbfgs", "gauss-newton"])
def test_hard_solvers_reach_backtrackings_objective_in_fewer_iterations(problem64, solver):
    physics, g, _, y = problem64
    z0 = torch.zeros(3, 3, dtype=torch.float64)
    ref = hard(physics, y, g, lam=0.01, init=z0, max_iter=3000, tol=1e-12, solver="backtracking")
    out = hard(physics, y, g, lam=0.01, init=z0, max_iter=3000, tol=1e-12, solver=solver)
    assert ref.converged.all() and out.converged.all()
    assert out.ended == ["converged"] * 3
    assert _rel_gap(out.final_objective, ref.final_objective).max() < 1e-6
    assert torch.allclose(out.z, ref.z, atol=1e-3)
    assert (out.iterations < ref.iterations).all()
    assert out.params["solver"] == solver and ref.params["solver"] == "backtracking"
    h = out.objective[: int(out.iterations.max()) + 1]
    for i in range(3):  # monotone: every accepted step passed a sufficient-decrease test ...
        col = h[:, i][~torch.isnan(h[:, i])]
        # ... up to rounding: at the minimum a step that moves z by rounding only is re-evaluated in another batch
        # (the images still running), and the float64 sparse product's last bit may differ (seen on an AMD EPYC: +1-2
        # ulp at the last iteration, for backtracking too)
        assert torch.all(col[1:] <= col[:-1] * (1 + 1e-14))


@pytest.mark.parametrize("coordinates", ["x", "u"])
def test_relaxed_lbfgs_reaches_backtrackings_objective(problem64, coordinates):
    physics, g, _, y = problem64
    z0 = torch.zeros(3, 3, dtype=torch.float64)
    kw = dict(lam=0.5, mu=0.02, init=z0, x_init="generator", max_iter=5000, tol=1e-13)
    ref = relaxed(physics, y, g, coordinates="u", solver="backtracking", **kw)
    out = relaxed(physics, y, g, coordinates=coordinates, solver="lbfgs", **kw)
    assert ref.converged.all() and out.converged.all()
    assert _rel_gap(out.final_objective, ref.final_objective).max() < 1e-6
    assert (out.x - ref.x).abs().max() < 1e-3
    assert out.params["solver"] == "lbfgs" and out.params["coordinates"] == coordinates


@pytest.mark.parametrize("solver", ["lbfgs", "gauss-newton"])
def test_projection_solvers_find_images_in_the_range(rng, solver):
    g = TinyAutoencoder().double()
    with torch.no_grad():
        z_true = torch.randn(4, 3, generator=rng, dtype=torch.float64)
        x = g(z_true)
    res = project_to_range(g, x, init=torch.zeros(4, 3, dtype=torch.float64), max_iter=500, tol=1e-14,
                           solver=solver)
    assert res.params["solver"] == solver
    assert (res.x - x).abs().max() < 1e-5
    assert torch.allclose(res.z, z_true, atol=1e-3)


@pytest.mark.parametrize("solver", ["lbfgs", "gauss-newton"])
def test_images_stop_one_by_one_and_the_cap_is_reported(problem64, solver):
    physics, g, _, y = problem64
    ref = hard(physics, y, g, lam=0.01, init=torch.zeros(3, 3, dtype=torch.float64), max_iter=3000, tol=1e-12,
               solver=solver)
    # image 0 starts at its minimum: it stops long before the others, which run on
    z0 = torch.stack([ref.z[0], torch.full((3,), 2.0, dtype=torch.float64), torch.full((3,), -2.0,
                                                                                      dtype=torch.float64)])
    out = hard(physics, y, g, lam=0.01, init=z0, max_iter=3000, tol=1e-12, solver=solver)
    assert out.converged.all() and out.iterations[0] < out.iterations[1:].min()
    assert torch.isnan(out.objective[int(out.iterations[0]) + 1:, 0]).all()  # not evaluated after it stopped
    capped = hard(physics, y, g, lam=0.01, init=z0, max_iter=2, tol=1e-12, solver=solver)
    assert capped.ended[1:] == ["max_iter", "max_iter"] and not capped.converged[1:].any()
    assert (capped.iterations <= 2).all()


def test_lbfgs_rejects_an_overflowing_float32_candidate():
    # A tiny start L makes the first gradient step overflow float32: f = inf must fail the
    # sufficient-decrease test (inf <= inf is true), and the solver still finds the minimum.
    c = torch.tensor([[1.0, -2.0], [3.0, 0.5]])
    out = lbfgs(lambda v, idx: (v["v"] - c[idx]).pow(2).sum(1), {"v": torch.zeros(2, 2)}, max_iter=200, L0=1e-30)
    assert out.variables["v"].dtype == torch.float32
    assert torch.allclose(out.variables["v"], c, atol=1e-4)
    h = out.objective[: int(out.iterations.max()) + 1]
    assert torch.isfinite(h[~torch.isnan(h)]).all()
    assert out.converged.all()


def _rosenbrock_counting(calls: list[int]):
    """Rosenbrock's function per row (nonconvex: L-BFGS backtracks often), counting the rows of each call."""
    def f(v, idx):
        calls.append(v["v"].shape[0])
        x = v["v"]
        return (1 - x[:, 0]) ** 2 + 100 * (x[:, 1] - x[:, 0] ** 2) ** 2 + (x[:, 2:] - idx[:, None]).pow(2).sum(1)
    return f


def test_lbfgs_interpolated_second_try_needs_fewer_evaluations_to_the_same_minimum():
    # Rosenbrock rows (nonconvex: the quasi-Newton steps often fail their first try): the
    # quadratic fit for the second try reaches the same minima with fewer evaluations, and the
    # images still stop one by one; interpolate=False keeps plain halving.  Full first tries
    # (trust=0): the trust radius also cuts them, and here the second try is under test.
    start = torch.tensor([[-1.2, 1.0, 0.0], [2.0, -1.0, 3.0], [0.5, 0.5, -2.0], [-2.0, 4.0, 1.0]], dtype=torch.float64)
    runs = {}
    for interpolate in (False, True):
        calls: list[int] = []
        out = lbfgs(_rosenbrock_counting(calls), {"v": start}, max_iter=500, tol=1e-12, interpolate=interpolate,
                    trust=0.0)
        assert out.converged.all() and len(set(out.iterations.tolist())) > 1
        assert torch.allclose(out.variables["v"][:, :2], torch.ones(4, 2, dtype=torch.float64), atol=1e-5)
        h = out.objective
        runs[interpolate] = (torch.stack([h[int(k), i] for i, k in enumerate(out.iterations)]), sum(calls))
        quasi = out.record.history["pairs"][:-1] > 0  # the step of row k + 1 was a quasi-Newton step
        steps = out.record.history["step"][1:][quasi]
        assert (steps < 1).any()  # some first tries failed: the second try matters here
    assert (runs[True][0] < 1e-10).all() and (runs[False][0] < 1e-10).all()
    assert runs[True][1] < runs[False][1]


def test_lbfgs_interpolation_reaches_the_same_hard_objective(problem64):
    # A generator problem in float32: with or without the fitted second try, the same minimum
    # within 1e-6 (relative) per image, every image converged.
    physics, g, x, y = problem64
    physics, g, y = physics.float(), g.float(), y.float()
    z0 = torch.randn(y.shape[0], g.latent_dim, generator=torch.Generator().manual_seed(3))
    lam = torch.full((y.shape[0],), 0.01)
    prior = make_latent_prior("l2", g)
    finals = []
    for interpolate in (False, True):
        _, _, state = solve_smooth(physics, y, g, z0, None, lam, lam, prior, SquaredL2(), "lbfgs", max_iter=300,
                                   interpolate=interpolate)
        assert state.converged.all()
        h = state.objective
        finals.append(torch.stack([h[int(k), i] for i, k in enumerate(state.iterations)]))
    assert (_rel_gap(finals[1], finals[0]) < 1e-6).all()


def test_gauss_newton_rejects_non_finite_candidates_and_stalls_when_it_must():
    c = torch.tensor([[1.0, -2.0]])

    def value(z, idx):  # finite only near the start: the full Newton step lands where f = inf
        f = (z - c[idx]).pow(2).sum(1).double()
        return torch.where(z.abs().amax(1) < 0.5, f, torch.full_like(f, float("inf")))

    def model(z, idx):
        return 2 * (z - c[idx]).double(), 2 * torch.eye(2, dtype=torch.float64).expand(z.shape[0], 2, 2)

    out = gauss_newton(value, model, torch.zeros(1, 2), max_iter=50, max_tries=30)
    h = out.objective[: int(out.iterations[0]) + 1, 0]
    assert torch.isfinite(h).all() and (out.variables["z"].abs() < 0.5).all()
    assert h[-1] < h[0]
    stuck = gauss_newton(lambda z, idx: torch.full((z.shape[0],), float("nan"), dtype=torch.float64), model,
                         torch.zeros(1, 2), max_iter=50, max_tries=3)
    assert stuck.record.ended == ["stalled"] and not stuck.converged.any()


def test_lbfgs_solves_a_quadratic_in_few_iterations():
    # f(v) = 0.5 v^T Q v - b^T v, d = 6, condition number 1e3: L-BFGS needs tens of iterations,
    # gradient descent thousands.
    torch.manual_seed(0)
    d = 6
    q, _ = torch.linalg.qr(torch.randn(d, d, dtype=torch.float64))
    Q = q @ torch.diag(torch.logspace(0, 3, d, dtype=torch.float64)) @ q.T
    b = torch.randn(2, d, dtype=torch.float64)
    exact = torch.linalg.solve(Q, b.T).T

    def f(v, idx):
        x = v["v"]
        return 0.5 * ((x @ Q) * x).sum(1) - (b[idx] * x).sum(1)

    out = lbfgs(f, {"v": torch.zeros(2, d, dtype=torch.float64)}, max_iter=300, tol=1e-14)
    assert torch.allclose(out.variables["v"], exact, atol=1e-6)
    assert (out.iterations < 80).all()
    with pytest.raises(InputError, match="memory >= 1"):
        lbfgs(f, {"v": torch.zeros(2, d, dtype=torch.float64)}, memory=0)
    with pytest.raises(InputError, match="trust >= 0"):
        lbfgs(f, {"v": torch.zeros(2, d, dtype=torch.float64)}, trust=-1.0)


def test_lbfgs_trust_radius_keeps_the_first_quasi_newton_step_in_the_starts_basin():
    # The demo's failure in miniature: two wells, a deep narrow one at the origin (whose basin
    # holds the start: gradient flow and Algorithm 1 end there) and a shallow wide one at
    # (2.5, 0).  Without the radius the second iteration, a full quasi-Newton step from one
    # pair, lowers f and lands in the shallow basin (a worse minimum); the radius cuts that
    # step and the solve ends in the start's basin, the paper's Algorithm 1's minimum.
    deep, wide = torch.tensor([0.0, 0.0], dtype=torch.float64), torch.tensor([2.5, 0.0], dtype=torch.float64)

    def f(v):
        return (-2.0 * torch.exp(-(v - deep).pow(2).sum(1) / 0.5) - torch.exp(-(v - wide).pow(2).sum(1) / 2.0)
                + 0.01 * v.pow(2).sum(1))

    start = torch.tensor([[-2.2, 0.4]], dtype=torch.float64)
    jump = lbfgs(lambda v, idx: f(v["v"]), {"v": start}, trust=0.0)
    safe = lbfgs(lambda v, idx: f(v["v"]), {"v": start})
    paper = block_backtracking(lambda block, state, idx: lambda z, rows: f(z), [Block("v", start.clone())])
    for out, well in ((jump, wide), (safe, deep), (paper, deep)):
        assert out.converged.all() and (out.variables["v"][0] - well).norm() < 0.1
    h = jump.record.history
    assert h["pairs"][1, 0] == 1 and h["step"][2, 0] == 1.0 and h["objective"][2, 0] < h["objective"][1, 0]
    assert safe.record.history["step"][2, 0] < 1.0  # the same step, cut to the radius
    assert f(safe.variables["v"]) < f(jump.variables["v"]) - 1.0


def test_forward_jacobian_matches_autograd(rng):
    g = TinyAutoencoder().double()
    z = torch.randn(2, 3, generator=rng, dtype=torch.float64)
    value, jac = forward_jacobian(g, z)
    assert torch.allclose(value, g(z))
    for b in range(2):
        ref = torch.autograd.functional.jacobian(lambda v: g(v.unsqueeze(0)).squeeze(0), z[b])  # [1, n, n, d]
        assert torch.allclose(jac[b], ref.movedim(-1, 0), atol=1e-10)


def test_solvers_that_do_not_apply_are_refused_in_one_line(problem64):
    physics, g, _, y = problem64
    with pytest.raises(InputError, match="projection step.*backtracking"):
        hard(physics, y, g, latent_prior="box", solver="lbfgs", max_iter=2)
    with pytest.raises(InputError, match="gauss-newton.*squared-L2"):
        hard(physics, y.abs() + 1, g, solver="gauss-newton", max_iter=2, fidelity=PoissonLikelihood())
    with pytest.raises(InputError, match="solver"):
        relaxed(physics, y, g, solver="gauss-newton", max_iter=2)
    with pytest.raises(InputError, match="x_steps"):
        relaxed(physics, y, g, solver="lbfgs", x_steps=3, max_iter=2)
    with pytest.raises(InputError, match="non-smooth"):
        check_solver("lbfgs", "sparse", smooth=False)
    with pytest.raises(InputError, match="least-squares objective in z"):
        check_solver("gauss-newton", "relaxed")
    assert sparse(physics, y, g, lam=0.1, max_iter=2).params.get("solver", "backtracking") == "backtracking"


def test_the_solver_is_a_parameter_with_choices():
    for method, choices in (("hard", ("auto", "backtracking", "lbfgs", "gauss-newton")),
                            ("relaxed", ("auto", "backtracking", "lbfgs"))):
        field = {f.name: f for f in dataclasses.fields(get_method(method).parameters)}["solver"]
        assert tuple(field.metadata["choices"]) == choices and field.default == "auto"


def test_auto_records_the_solver_it_ran(problem64):
    physics, g, _, y = problem64
    assert hard(physics, y, g, max_iter=3).params["solver"] == "lbfgs"
    assert hard(physics, y, g, latent_prior="box", max_iter=3).params["solver"] == "backtracking"
    r = relaxed(physics, y, g, max_iter=3)
    assert r.params["solver"] == "lbfgs" and r.params["coordinates"] == "u"
    assert relaxed(physics, y, g, coordinates="x", max_iter=3).params["solver"] == "backtracking"
    assert relaxed(physics, y, g, x_steps=2, max_iter=3).params["solver"] == "backtracking"
