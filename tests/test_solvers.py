"""The batched backtracking solver (Algorithms 1-3) and PDHG."""

from __future__ import annotations

import pytest
import torch

from genprior.physics.denoising import Identity
from genprior.physics.finite_differences import FiniteDifferences, grad, grad_adjoint, tv_norm
from genprior.physics.operator import Stack
from genprior.solvers.backtracking import Block, block_backtracking
from genprior.solvers.pdhg import PDHGProblem, pdhg


def quadratic_partial(Q: torch.Tensor, b: torch.Tensor):
    """f(v) = 0.5 v^T Q_i v - b_i^T v per image, Q: [B, d, d], b: [B, d]."""

    def make(block, state, idx):
        Qi, bi = Q[idx], b[idx]
        return lambda v, rows: 0.5 * torch.einsum("bi,bij,bj->b", v, Qi[rows], v) - (bi[rows] * v).sum(1)

    return make


def random_spd(B: int, d: int, rng, scales) -> torch.Tensor:
    M = torch.randn(B, d, d, generator=rng, dtype=torch.float64)
    Q = M @ M.transpose(1, 2) / d + 0.5 * torch.eye(d, dtype=torch.float64)
    return Q * torch.tensor(scales, dtype=torch.float64).reshape(B, 1, 1)


def test_gradient_descent_finds_minimiser_with_per_image_steps(rng):
    # Curvatures differ by 10^4 between images: a shared step size would fail one of them.
    B, d = 3, 5
    Q = random_spd(B, d, rng, [0.01, 1.0, 100.0])
    b = torch.randn(B, d, generator=rng, dtype=torch.float64)
    out = block_backtracking(quadratic_partial(Q, b), [Block("v", torch.zeros(B, d, dtype=torch.float64))],
                             max_iter=5000, tol=1e-12)
    exact = torch.linalg.solve(Q, b)
    assert torch.allclose(out.variables["v"], exact, atol=1e-6, rtol=1e-6)
    assert out.converged.all()


def test_objective_never_increases(rng):
    B, d = 4, 6
    Q = random_spd(B, d, rng, [1.0] * B)
    b = torch.randn(B, d, generator=rng, dtype=torch.float64)
    out = block_backtracking(quadratic_partial(Q, b), [Block("v", torch.randn(B, d, generator=rng, dtype=torch.float64))],
                             max_iter=50)
    hist = out.objective
    for i in range(B):
        col = hist[: int(out.iterations[i]) + 1, i]
        assert torch.all(col[1:] <= col[:-1] + 1e-12)
        assert col[-1] < col[0]


def test_batched_equals_one_by_one(rng):
    B, d = 4, 5
    Q = random_spd(B, d, rng, [0.1, 1.0, 3.0, 10.0])
    b = torch.randn(B, d, generator=rng, dtype=torch.float64)
    v0 = torch.randn(B, d, generator=rng, dtype=torch.float64)
    batched = block_backtracking(quadratic_partial(Q, b), [Block("v", v0)], max_iter=30)
    for i in range(B):
        single = block_backtracking(quadratic_partial(Q[i : i + 1], b[i : i + 1]), [Block("v", v0[i : i + 1])], max_iter=30)
        assert torch.allclose(single.variables["v"], batched.variables["v"][i : i + 1], atol=1e-12)
        assert int(single.iterations[0]) == int(batched.iterations[i])


def test_stopped_images_are_not_evaluated(rng):
    # Image 0 starts at its minimiser and stops after one iteration; image 1 keeps going.
    Q = random_spd(2, 3, rng, [1.0, 1.0])
    b = torch.randn(2, 3, generator=rng, dtype=torch.float64)
    v0 = torch.stack([torch.linalg.solve(Q[0], b[0]), torch.zeros(3, dtype=torch.float64)])
    seen = []
    make = quadratic_partial(Q, b)

    def spy(block, state, idx):
        seen.append(idx.tolist())
        return make(block, state, idx)

    out = block_backtracking(spy, [Block("v", v0)], max_iter=20, tol=1e-10)
    assert int(out.iterations[0]) == 1
    assert int(out.iterations[1]) > 1
    assert all(s == [1] for s in seen[2:])
    assert torch.isnan(out.objective[2:, 0]).all()


def test_two_blocks_with_prox_solve_lasso_like_problem(rng):
    # min_{z,u} 0.5||z + u - c||^2 + 0.5||z||^2 + t ||u||_1: PALM with a soft-threshold prox on u.
    c = torch.tensor([[3.0, -0.2, 0.0, 1.5]], dtype=torch.float64)
    t = 0.5

    def make(block, state, idx):
        if block == "z":
            u = state["u"]
            return lambda z, rows: 0.5 * ((z + u[rows] - c).pow(2).sum(1) + z.pow(2).sum(1))
        z = state["z"]
        return lambda u, rows: 0.5 * ((z[rows] + u - c).pow(2).sum(1) + z[rows].pow(2).sum(1))

    soft = lambda v, step: torch.sign(v) * torch.clamp(v.abs() - t * step, min=0)  # noqa: E731
    blocks = [Block("z", torch.zeros_like(c)), Block("u", torch.zeros_like(c), prox=soft,
                                                      penalty=lambda u: t * u.abs().sum(1))]
    out = block_backtracking(make, blocks, max_iter=2000, tol=1e-12)
    z, u = out.variables["z"], out.variables["u"]
    # Optimality: z = (c - u) / 2 and u = soft(c - z, t) at the fixed point.
    assert torch.allclose(z, (c - u) / 2, atol=1e-6)
    assert torch.allclose(u, soft(c - z, torch.ones(1, 1, dtype=torch.float64)), atol=1e-6)
    hist = out.objective[:, 0]
    hist = hist[~torch.isnan(hist)]
    assert torch.all(hist[1:] <= hist[:-1] + 1e-12)


def test_invalid_solver_arguments():
    with pytest.raises(ValueError, match="max_tries"):
        block_backtracking(lambda *a: None, [Block("v", torch.zeros(1, 1))], max_tries=0)


def test_gradient_adjoint_and_norm(rng):
    x = torch.randn(3, 1, 9, 7, generator=rng, dtype=torch.float64)
    p = torch.randn(3, 1, 2, 9, 7, generator=rng, dtype=torch.float64)
    lhs = (grad(x) * p).sum()
    rhs = (x * grad_adjoint(p)).sum()
    assert abs(float(lhs - rhs)) < 1e-10 * abs(float(lhs))
    est = FiniteDifferences((1, 9, 7)).double().norm(n_iter=300)
    assert abs(est - Stack(FiniteDifferences((1, 9, 7))).norm(x, n_iter=300)) < 1e-5  # one power iteration
    assert est**2 <= 8.0 + 1e-9 and est**2 > 7.5
    constant = torch.ones(2, 1, 5, 5)
    assert torch.all(tv_norm(constant) == 0)


def test_pdhg_solves_tv_denoising_against_an_independent_solver(rng):
    # Identity operator: min ||x - y||^2 + lam TV(x) = prox_{(lam / 2) TV}(y), which FGP (a
    # projected gradient method on the dual, another algorithm) computes independently.
    from genprior.physics.finite_differences import project_l2_ball
    from genprior.solvers.tv_prox import tv_prox

    y = torch.zeros(2, 1, 12, 12, dtype=torch.float64)
    y[:, :, 3:9, 3:9] = 1.0
    y += 0.1 * torch.randn(y.shape, generator=rng, dtype=torch.float64)
    lam = 0.3

    def prox_dual(p, s, idx):
        return (p[0] - s * y[idx]) / (1 + s / 2), project_l2_ball(p[1], lam)

    problem = PDHGProblem(
        K=Stack(Identity(12).double(), FiniteDifferences((1, 12, 12))), prox_dual=prox_dual,
        prox_primal=None, objective=lambda x, idx: (x - y[idx]).pow(2).flatten(1).sum(1) + lam * tv_norm(x),
    )
    step = 1 / (1.1 * problem.K.norm(y))
    out = pdhg(problem, torch.zeros_like(y), step, step, max_iter=20_000, tol=1e-5)
    reference, _ = tv_prox(y, torch.full((2, 1, 1, 1), lam / 2, dtype=torch.float64), n_iter=20_000)
    f = lambda x: problem.objective(x, torch.arange(2))  # noqa: E731
    assert out.converged.all() and torch.all(out.iterations < 20_000)
    assert torch.all((f(out.variables["x"]) - f(reference)).abs() < 2e-5 * f(reference))
    assert torch.allclose(out.variables["x"], reference, atol=1e-3)
    assert torch.all(f(reference) < f(y))  # the noisy data itself is not optimal
    hist = out.objective
    assert hist.shape[1] == 2 and torch.all(torch.isfinite(hist[0]))


def test_prox_block_grows_its_lipschitz_estimate(rng):
    # Algorithm 3 as intended: the u block's L must grow from 1 to ~100 (curvature 100), else
    # the prox-gradient steps would diverge.  min_u 50 ||u - c||^2 + t ||u||_1.
    c = torch.tensor([[3.0, -0.2, 0.0, 1.5]], dtype=torch.float64)
    t = 2.0
    soft = lambda v, step: torch.sign(v) * torch.clamp(v.abs() - t * step, min=0)  # noqa: E731

    def make(block, state, idx):
        return lambda u, rows: 50.0 * (u - c).pow(2).sum(1)

    out = block_backtracking(make, [Block("u", torch.zeros_like(c), prox=soft, penalty=lambda u: t * u.abs().sum(1))],
                             max_iter=300, tol=1e-12)
    expected = torch.sign(c) * torch.clamp(c.abs() - t / 100.0, min=0)  # the exact minimiser
    assert torch.allclose(out.variables["u"], expected, atol=1e-8)
    assert float(out.lipschitz["u"][0]) >= 100.0 * 0.5  # L grew (and halves after successes)


def test_indexed_prox_steps_and_per_image_start_L(rng):
    B, d = 3, 4
    Q = random_spd(B, d, rng, [1.0, 10.0, 100.0])
    b = torch.randn(B, d, generator=rng, dtype=torch.float64)
    seen = []

    def prox(v, step, index):
        seen.append(index.tolist())
        return v

    blocks = [Block("v", torch.zeros(B, d, dtype=torch.float64), prox=prox, indexed=True, steps=3,
                    penalty=lambda v, index: torch.zeros(v.shape[0], dtype=torch.float64))]
    L0 = torch.tensor([1.0, 10.0, 100.0])
    out = block_backtracking(quadratic_partial(Q, b), blocks, max_iter=5, L0=L0)
    assert [0, 1, 2] in seen
    one_step = block_backtracking(quadratic_partial(Q, b), [Block("v", torch.zeros(B, d, dtype=torch.float64))],
                                  max_iter=15, L0=L0)
    exact = torch.linalg.solve(Q, b)
    # 5 iterations of 3 steps land as close as 15 single steps do (same sequence of steps)
    assert torch.allclose(out.variables["v"], one_step.variables["v"], atol=1e-10)
    assert (out.variables["v"] - exact).norm() < (torch.zeros_like(exact) - exact).norm()
    with pytest.raises(ValueError, match="L0 must be positive"):
        block_backtracking(quadratic_partial(Q, b), [Block("v", torch.zeros(B, d, dtype=torch.float64))],
                           L0=torch.tensor([1.0, 2.0]))


def test_null_prox_steps_keep_L_and_the_first_real_step_stays_finite():
    # Regression (sparse on Shapes diverged to |x| ~ 1e24): while the soft threshold keeps u = 0
    # every u step "passes" the test trivially; halving L_u on each such step sank it to ~1e-26, so
    # the first step that moved u had length ~1e25, overflowed float32 (||du||^2 = inf) and
    # inf <= inf accepted it.  Here u stays 0 until the slow coordinate z_2 passes 50.
    dt = torch.float32
    Q = torch.tensor([1.0, 1e-3], dtype=dt)
    b = torch.tensor([[1.0, 100.0]], dtype=dt)
    eps, t = 0.01, 1.0

    def make(block, state, idx):
        if block == "z":
            u = state["u"]
            return lambda z, rows: ((z - b).pow(2) * Q).sum(1) + (u[rows] - eps * z[:, 1:]).pow(2).sum(1)
        z = state["z"]
        return lambda u, rows: ((z[rows] - b).pow(2) * Q).sum(1) + (u - eps * z[rows, 1:]).pow(2).sum(1)

    soft = lambda v, step: torch.sign(v) * torch.clamp(v.abs() - t * step, min=0)  # noqa: E731
    blocks = [Block("z", torch.zeros(1, 2, dtype=dt)),
              Block("u", torch.zeros(1, 1, dtype=dt), prox=soft, penalty=lambda u: t * u.abs().sum(1))]
    out = block_backtracking(make, blocks, max_iter=300, tol=1e-9)
    z, u = out.variables["z"], out.variables["u"]
    h = out.objective[: int(out.iterations[0]) + 1, 0]
    assert torch.isfinite(h).all() and torch.all(h[1:] <= h[:-1] * (1 + 1e-6))
    assert float(z[0, 1]) > 50 and 0 < float(u[0, 0]) < 1  # u switched on, and by a sane amount
    assert float(out.lipschitz["u"][0]) > 1e-3


def test_non_finite_candidates_are_rejected():
    # A tiny start L makes the first candidate overflow float32: its objective and the bound are
    # both inf, and inf <= inf must not count as sufficient decrease.
    c = torch.tensor([[1.0, -2.0]])

    def make(block, state, idx):
        return lambda v, rows: (v - c).pow(2).sum(1)

    out = block_backtracking(make, [Block("v", torch.zeros(1, 2))], max_iter=100, L0=1e-30)
    assert torch.allclose(out.variables["v"], c, atol=1e-4)
    assert torch.isfinite(out.objective[: int(out.iterations[0]) + 1]).all()


def test_solvers_switch_tf32_off_and_restore_the_callers_settings():
    from genprior.solvers.precision import ieee_float32

    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    saved = (cudnn.allow_tf32, matmul.allow_tf32)
    try:
        cudnn.allow_tf32 = matmul.allow_tf32 = True
        with ieee_float32():
            assert not cudnn.allow_tf32 and not matmul.allow_tf32
        assert cudnn.allow_tf32 and matmul.allow_tf32
    finally:
        cudnn.allow_tf32, matmul.allow_tf32 = saved


def _method_names():
    from genprior.methods import METHODS

    return sorted(METHODS)


@pytest.mark.parametrize("method", _method_names())
def test_every_method_iterates_in_ieee_float32(method, tomo16, tiny_generator):
    # Through the solvers themselves: with TF32 switched on by the caller, every iteration of every
    # method runs with TF32 off (read in the loop's callback), and the caller's settings come back.
    import genprior as gp

    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    y = tomo16.A(torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(0)))
    seen = []

    def callback(it):
        seen.append((it.iteration, cudnn.allow_tf32, matmul.allow_tf32))

    saved = (cudnn.allow_tf32, matmul.allow_tf32)
    try:
        cudnn.allow_tf32 = matmul.allow_tf32 = True
        result = gp.solve(method, tomo16, y, tiny_generator, max_iter=3, callback=callback)
        assert cudnn.allow_tf32 and matmul.allow_tf32  # restored
    finally:
        cudnn.allow_tf32, matmul.allow_tf32 = saved
    assert [k for k, _, _ in seen] == list(range(1, int(result.iterations.max()) + 1)) and seen
    assert not any(c or m for _, c, m in seen), seen
