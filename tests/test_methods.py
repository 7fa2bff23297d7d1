"""Reconstruction methods: objectives decrease, known solutions are found, bad input is refused."""

from __future__ import annotations

import pytest
import torch
from tests.conftest import tomography64

from genprior.choice.grids import paper_grid
from genprior.choice.tuning import grid_search
from genprior.methods import METHODS, get_method, hard, relaxed, tikhonov, tv
from genprior.metrics import psnr


@pytest.fixture
def problem(tomo16, tiny_generator, rng):
    """Noisy tomography of images in the range of the tiny generator."""
    with torch.no_grad():
        z_true = torch.randn(3, 3, generator=rng)
        x = tiny_generator(z_true)
        y = tomo16.A(x) + 0.05 * torch.randn(tomo16.A(x).shape, generator=rng)
    return tomo16, x, y


@pytest.fixture
def problem64(rng):
    """The same kind of problem in float64."""
    physics, _, x, y = tomography64(rng, sigma=0.05)
    return physics, x, y


def _decreases(result):
    for i in range(len(result)):
        hist = result.objective[:, i]
        hist = hist[~torch.isnan(hist)]
        assert hist[-1] < hist[0]
        assert torch.all(hist[1:] <= hist[:-1] * (1 + 1e-6) + 1e-9)


@pytest.mark.parametrize("method", ["hard", "relaxed", "tikhonov"])
def test_backtracking_methods_decrease_their_objective(method, problem, tiny_generator):
    physics, x, y = problem
    result = get_method(method).function(physics, y, generator=tiny_generator, max_iter=40)
    _decreases(result)
    assert result.x.shape == x.shape
    assert (result.iterations >= 1).all() and (result.iterations <= 40).all()
    assert result.seconds > 0


def test_tv_decreases_objective_and_beats_noisy_least_squares(problem):
    physics, x, y = problem
    result = tv(physics, y, lam=0.05, max_iter=300)
    assert result.final_objective.lt(result.objective[0]).all()
    assert psnr(result.x, x).mean() > psnr(physics.A_adjoint(y), x).mean()


def test_hard_recovers_image_in_range_from_noiseless_data(tomo16, tiny_generator, rng):
    with torch.no_grad():
        z_true = 0.8 * torch.randn(4, 3, generator=rng)
        x = tiny_generator(z_true)
        y = tomo16.A(x)
    result = hard(tomo16, y, tiny_generator, lam=0.0, max_iter=500, tol=1e-9)
    assert psnr(result.x, x).min() > 40.0
    assert torch.allclose(result.z, z_true, atol=1e-2)


def test_relaxed_with_large_lambda_approaches_hard(problem64, tiny_generator):
    # relaxed with lam * mu = alpha fixed tends to hard with alpha as lam grows.  Alternating
    # descent slows down as the coupling lam grows, hence the long runs.
    physics, x, y = problem64
    y = y[:1]
    g = tiny_generator.double()
    z0 = torch.zeros(1, 3, dtype=torch.float64)
    h = hard(physics, y, g, lam=0.01, init=z0, max_iter=500, tol=1e-12)
    gaps = []
    for lam in (1.0, 3.0):
        r = relaxed(physics, y, g, lam=lam, mu=0.01 / lam, init=z0, x_init="generator", max_iter=800, tol=1e-14)
        gaps.append(float((r.x - h.x).abs().max()))
    assert gaps[1] < 0.6 * gaps[0]
    assert gaps[1] < 0.02


def test_tikhonov_matches_closed_form(rng):
    from genprior.physics.tomography import Tomography

    physics = Tomography(16).double()  # a new operator: the session-wide tomo16 fixture stays float32
    x = torch.rand(2, 1, 16, 16, generator=rng, dtype=torch.float64)
    y = physics.A(x)
    lam = 0.1
    result = tikhonov(physics, y, lam=lam, max_iter=3000, tol=1e-12)
    # normal equations (A^T A + lam I) x = A^T y, by dense solve on the explicit matrix
    n = 256
    eye = torch.eye(n, dtype=torch.float64).reshape(n, 1, 16, 16)
    AtA = physics.A_adjoint(physics.A(eye)).reshape(n, n)
    rhs = physics.A_adjoint(y).reshape(2, n)
    exact = torch.linalg.solve(AtA + lam * torch.eye(n, dtype=torch.float64), rhs.T).T
    assert torch.allclose(result.x.reshape(2, n), exact, atol=1e-5)


@pytest.mark.parametrize("method", ["hard", "relaxed"])
@pytest.mark.parametrize("solver", ["backtracking", "lbfgs"])
def test_batched_methods_equal_one_by_one(method, solver, problem64, tiny_generator):
    # float64: in float32 the sparse product's summation order depends on the batch size.  Even in
    # float64 a batch of 3 and a batch of 1 round the generator's products differently in the last
    # bit; backtracking's path does not notice, L-BFGS's curvature pairs near the end may (a step
    # accepted one iteration apart), so for it the same point is asserted, the count within 2.
    physics, x, y = problem64
    g = tiny_generator.double()
    z0 = torch.randn(3, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    solve = get_method(method).function
    extra = {"x_init": "generator"} if method == "relaxed" else {}
    batched = solve(physics, y, g, init=z0, max_iter=25, solver=solver, **extra)
    for i in range(3):
        single = solve(physics, y[i : i + 1], g, init=z0[i : i + 1], max_iter=25, solver=solver, **extra)
        assert torch.allclose(single.x, batched.x[i : i + 1], atol=1e-8)
        slack = 0 if solver == "backtracking" else 2
        assert abs(int(single.iterations[0]) - int(batched.iterations[i])) <= slack


def test_per_image_parameters_equal_separate_runs(problem, tiny_generator):
    physics, x, y = problem
    lams = torch.tensor([0.5, 0.05, 0.005])
    together = tv(physics, y, lam=lams, max_iter=100, tol=0)
    for i in range(3):
        alone = tv(physics, y[i : i + 1], lam=float(lams[i]), max_iter=100, tol=0)
        assert torch.allclose(alone.x, together.x[i : i + 1], atol=1e-5)


@pytest.mark.parametrize("method", ["hard", "relaxed"])
def test_encoder_initialisation(method, problem, tiny_autoencoder):
    # init="encoder" starts from the encoder's codes of the simple reconstruction: the objective's
    # row 0 is the objective there, and the whole run equals one given those codes as a tensor.
    from genprior.methods.common import simple_reconstruction

    physics, x, y = problem
    solve = get_method(method).function
    result = solve(physics, y, tiny_autoencoder, lam=0.001, init="encoder", max_iter=5)
    assert result.params["init"] == "encoder"
    codes = tiny_autoencoder.encode(simple_reconstruction(physics, y)).detach()
    given = solve(physics, y, tiny_autoencoder, lam=0.001, init=codes, max_iter=5)
    assert torch.equal(result.x, given.x) and torch.equal(result.z, given.z)
    assert torch.equal(result.objective.nan_to_num(-1.0), given.objective.nan_to_num(-1.0))
    random = solve(physics, y, tiny_autoencoder, lam=0.001, init="random", max_iter=5)
    assert not torch.allclose(random.objective[0], result.objective[0])  # the start is not the random one
    if method == "hard":  # f(z) = ||A G(z) - y||^2 + lam ||z||^2 at the encoder's codes
        with torch.no_grad():
            start = (physics.A(tiny_autoencoder(codes)) - y).flatten(1).pow(2).sum(1) + 0.001 * codes.pow(2).sum(1)
        assert torch.allclose(result.objective[0], start.double(), rtol=1e-5)
    from tests.conftest import TinyGenerator

    with pytest.raises(ValueError, match="init='encoder' needs a model with an encoder"):
        hard(physics, y, TinyGenerator(), init="encoder")


def test_grid_search_picks_best_parameter(problem):
    physics, x, y = problem
    out = grid_search(physics, y, x, "tv", {"lam": [10.0, 0.05, 1e-5]}, max_iter=200)
    assert len(out["table"]) == 3
    assert out["best_psnr"] == max(row["psnr"] for row in out["table"])
    assert out["best"] == {"lam": 0.05}
    assert paper_grid(0.4, 0.5, 0.05) == [0.4, 0.2, 0.1, 0.05]


# -- bad input ---------------------------------------------------------------------


def test_unknown_method_name():
    with pytest.raises(ValueError, match="unknown method 'sparse-ish'.*hard"):
        get_method("sparse-ish")
    assert set(METHODS) >= {"hard", "relaxed", "tikhonov", "tv"}


@pytest.mark.parametrize("method", ["hard", "relaxed", "tikhonov", "tv"])
def test_negative_parameter_is_refused(method, problem, tiny_generator):
    physics, x, y = problem
    with pytest.raises(ValueError, match="lam must be finite and >= 0"):
        get_method(method).function(physics, y, generator=tiny_generator, lam=-1.0)


def test_negative_mu_is_refused(problem, tiny_generator):
    physics, x, y = problem
    with pytest.raises(ValueError, match="mu must be finite and >= 0"):
        relaxed(physics, y, tiny_generator, mu=-0.1)


@pytest.mark.parametrize("method", ["hard", "tv"])
def test_nan_in_measurements_is_refused(method, problem, tiny_generator):
    physics, x, y = problem
    y = y.clone()
    y[1, 0, 3, 4] = float("nan")
    with pytest.raises(ValueError, match="measurements y contains 1 NaN"):
        get_method(method).function(physics, y, generator=tiny_generator)


def test_inf_in_measurements_is_refused(problem):
    physics, x, y = problem
    y = y.clone()
    y[0, 0, 0, 0] = float("inf")
    with pytest.raises(ValueError, match="1 Inf"):
        tikhonov(physics, y)


def test_measurements_of_wrong_shape_are_refused(problem):
    physics, x, y = problem
    with pytest.raises(ValueError, match=r"measurements y must have shape \[B, 1, 36, 25\], got \[3, 1, 5, 25\]"):
        tv(physics, y[:, :, :5])


def test_generator_of_wrong_image_size_is_refused(problem):
    from tests.conftest import TinyGenerator

    physics, x, y = problem
    with pytest.raises(ValueError, match=r"produces images of shape \[1, 8, 8\].*expects \[1, 16, 16\]"):
        hard(physics, y, TinyGenerator(n=8))


def test_generative_method_without_generator(problem):
    physics, x, y = problem
    with pytest.raises(ValueError, match="needs a generator"):
        hard(physics, y, None)


def test_object_without_adjoint_is_not_an_operator(problem):
    physics, x, y = problem

    class NotAnOperator:
        def A(self, x):
            return x

    with pytest.raises(TypeError, match="A_adjoint"):
        tikhonov(NotAnOperator(), y)


def test_image_size_mismatch_with_operator(tomo16):
    with pytest.raises(ValueError, match=r"input must have shape \[B, 1, 16, 16\], got \[2, 1, 28, 28\]"):
        tomo16.A(torch.zeros(2, 1, 28, 28))


def test_projection_finds_codes_of_images_in_the_range(tiny_generator, tiny_autoencoder, rng):
    from genprior.methods.projection import project_to_range

    with torch.no_grad():
        z_true = torch.randn(5, 3, generator=rng)
        x = tiny_generator(z_true)
    found = project_to_range(tiny_generator, x, init="random", restarts=3, max_iter=500, tol=1e-10)
    assert psnr(found.x, x).min() > 40
    assert found.z.shape == (5, 3) and found.objective.shape[1] == 5
    one = project_to_range(tiny_generator, x, init="random", restarts=1, max_iter=500, tol=1e-10)
    assert torch.all(found.final_objective <= one.final_objective + 1e-9)  # best of 3 includes start 1
    enc = project_to_range(tiny_autoencoder, x, init="encoder", max_iter=50)
    assert psnr(enc.x, x).min() > 30
    with pytest.raises(ValueError, match="restarts must be >= 1"):
        project_to_range(tiny_generator, x, init="random", restarts=0)


GENERATIVE = [name for name, spec in METHODS.items() if spec.needs_generator]


@pytest.mark.parametrize("method", GENERATIVE)
def test_generative_methods_refuse_bad_input(method, problem, tiny_generator):
    # The list: no generator, a critic prior on a model without a critic, mu < 0, K < 1.
    physics, x, y = problem
    solve = get_method(method).function
    with pytest.raises(ValueError, match=f"method '{method}' needs a generator"):
        solve(physics, y, None)
    with pytest.raises(ValueError, match="latent prior 'critic' uses the GAN critic.*has no critic"):
        solve(physics, y, tiny_generator, latent_prior="critic", max_iter=2)
    for restarts in (0, -1, 1.5):
        with pytest.raises(ValueError, match="restarts must be >= 1"):
            solve(physics, y, tiny_generator, restarts=restarts)
    if "mu" in get_method(method).tunable:
        with pytest.raises(ValueError, match="mu must be finite and >= 0"):
            solve(physics, y, tiny_generator, mu=-0.1)


def test_non_finite_reconstructions_raise_instead_of_being_returned(tomo16):
    from tests.conftest import TinyGenerator

    class NaNBeyondOne(TinyGenerator):
        """NaN images for codes with z_0 > 1 (a broken model)."""

        def forward(self, z):
            x = super().forward(z)
            return torch.where((z[:, 0] > 1).reshape(-1, 1, 1, 1), torch.full_like(x, float("nan")), x)

    g = NaNBeyondOne()
    z0 = torch.tensor([[0.0, 0.1, 0.2], [5.0, 0.0, 0.0], [0.3, 0.2, 0.1]])
    with torch.no_grad():
        y = tomo16.A(TinyGenerator()(torch.zeros(3, 3)))
    with pytest.raises(FloatingPointError, match=r"method 'hard' produced NaN or Inf for 1 of 3 images \(rows 1\)"):
        hard(tomo16, y, g, init=z0, max_iter=5)
    fine = hard(tomo16, y[[0, 2]], g, init=z0[[0, 2]], max_iter=5)
    assert torch.isfinite(fine.x).all()
