"""Every forward operator of the paper, checked once through one parametrised registry.

The registry lists small instances of every problem in ``genprior.physics.PROBLEMS``;
each check (adjointness, norm 1, batches, float64, devices, autograd, errors) runs over
all of them.  Further tests compare CS, blur and inpainting with explicit dense
matrices, run the methods with a duck-typed (DeepInverse-style) operator, and smoke-run
``genprior reconstruct`` for every ``--problem``.
"""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cli_runner import run_cli
from genprior.physics import (
    PROBLEMS,
    Blur,
    CompressedSensing,
    Identity,
    Inpainting,
    Tomography,
    adjointness_error,
    gaussian_kernel,
    make_operator,
    problem_options,
)

# name -> (problem, image_size, options); every problem appears at least once.
REGISTRY = {
    "tomography": ("tomography", 16, {}),
    "tomography-few-angles": ("tomography", 12, {"angles": 9, "bins": 15}),
    "sparse-view": ("sparse-view", 16, {"angles": 7, "seed": 3}),
    "limited-angle": ("limited-angle", 16, {"angle_range": (0.2, 1.9)}),
    "cs": ("cs", 12, {"measurements": 30, "seed": 1}),
    "deconvolution": ("deconvolution", 12, {}),
    "deconvolution-3x3": ("deconvolution", 10, {"kernel_size": 3, "kernel_width": 0.7}),
    "inpainting": ("inpainting", 12, {"keep": 0.3, "seed": 2}),
    "denoising": ("denoising", 12, {}),
}
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def build(name: str):
    problem, n, options = REGISTRY[name]
    return make_operator(problem, n, **options)


def fresh(op):
    """A new, equal operator (``copy.deepcopy`` cannot copy the sparse CSR buffers of tomography)."""
    return build(op.registry_name)


@pytest.fixture(scope="module", params=sorted(REGISTRY))
def op(request):
    built = build(request.param)
    built.registry_name = request.param
    return built


def _images(op, b: int, dtype=torch.float32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, *op.in_shape, generator=g, dtype=dtype)


def _measurements(op, b: int, dtype=torch.float32, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, *op.out_shape, generator=g, dtype=dtype)


def dense(op, dtype=torch.float64) -> torch.Tensor:
    """The matrix of ``op`` (measurements x pixels) in ``dtype``, applied to the unit basis."""
    if dtype == torch.float64:
        op = (fresh(op) if hasattr(op, "registry_name") else copy.deepcopy(op)).double()
    n = math.prod(op.in_shape)
    basis = torch.eye(n, dtype=dtype).reshape(n, *op.in_shape)
    with torch.no_grad():
        return op.A(basis).reshape(n, -1).T


def test_registry_covers_every_problem():
    assert {problem for problem, _, _ in REGISTRY.values()} == set(PROBLEMS)
    assert set(PROBLEMS) >= {"tomography", "cs", "deconvolution", "inpainting", "denoising", "limited-angle",
                             "sparse-view"}


def test_adjointness(op):
    op64 = fresh(op).double()
    assert adjointness_error(op64, _images(op, 3, torch.float64), _measurements(op, 3, torch.float64)) < 1e-12
    assert adjointness_error(op, _images(op, 3), _measurements(op, 3)) < 1e-5


def test_norm_is_one(op):
    assert torch.linalg.matrix_norm(dense(op), ord=2).item() == pytest.approx(1.0, abs=1e-5)
    assert op.norm(n_iter=1000, tol=1e-10) == pytest.approx(1.0, abs=1e-3)


def test_batch_equals_images_one_by_one(op):
    x, y = _images(op, 4), _measurements(op, 4)
    with torch.no_grad():
        ax, aty = op.A(x), op.A_adjoint(y)
        assert ax.shape == (4, *op.out_shape) and aty.shape == (4, *op.in_shape)
        for i in range(4):
            torch.testing.assert_close(ax[i:i + 1], op.A(x[i:i + 1]), rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(aty[i:i + 1], op.A_adjoint(y[i:i + 1]), rtol=1e-5, atol=1e-6)


def test_float64_agrees_with_float32(op):
    op64 = fresh(op).double()
    x, y = _images(op, 2), _measurements(op, 2)
    with torch.no_grad():
        ax64, aty64 = op64.A(x.double()), op64.A_adjoint(y.double())
        assert ax64.dtype == aty64.dtype == torch.float64
        torch.testing.assert_close(op.A(x).double(), ax64, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(op.A_adjoint(y).double(), aty64, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_device_move(op, device):
    moved = fresh(op).to(device)
    x, y = _images(op, 2), _measurements(op, 2)
    with torch.no_grad():
        ax, aty = moved.A(x.to(device)), moved.A_adjoint(y.to(device))
        assert ax.device.type == aty.device.type == device
        torch.testing.assert_close(ax.cpu(), op.A(x), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(aty.cpu(), op.A_adjoint(y), rtol=1e-4, atol=1e-5)


def test_gradient_is_the_adjoint(op):
    x = _images(op, 2).requires_grad_(True)
    y = _measurements(op, 2)
    (g,) = torch.autograd.grad((op.A(x) * y).sum(), x)
    torch.testing.assert_close(g, op.A_adjoint(y).detach(), rtol=1e-5, atol=1e-6)


def test_wrong_shape_is_a_clear_error(op):
    with pytest.raises(ValueError, match="must have shape"):
        op.A(torch.zeros(2, 1, 7, 7))
    with pytest.raises(ValueError, match="must have shape"):
        op.A_adjoint(torch.zeros(2, 3))


@pytest.mark.parametrize("name", ["cs", "deconvolution", "inpainting", "tomography"])
def test_dtype_mismatch_is_a_clear_error(name):
    op = build(name)
    with pytest.raises(TypeError, match="float64"):
        op.A(_images(op, 1, torch.float64))


# --- explicit dense matrices on tiny images -------------------------------------------
def test_cs_is_the_scaled_gaussian_matrix():
    op = CompressedSensing(6, measurements=10, seed=4)
    g = torch.Generator().manual_seed(4)
    matrix = torch.randn(10, 36, generator=g, dtype=torch.float64) / math.sqrt(10)
    expected = matrix.float().double() / torch.linalg.matrix_norm(matrix.float().double(), ord=2)
    torch.testing.assert_close(dense(op), expected, rtol=1e-6, atol=1e-9)
    assert op.A(torch.zeros(5, 1, 6, 6)).shape == (5, 10)


def _blur_matrix(kernel: np.ndarray, h: int, w: int) -> np.ndarray:
    """(A x)[i, j] = sum_ab k[a, b] x[i - a + r, j - b + r], zero outside: by loops."""
    k = kernel.shape[0]
    r = k // 2
    m = np.zeros((h * w, h * w))
    for i in range(h):
        for j in range(w):
            for a in range(k):
                for b in range(k):
                    p, q = i - a + r, j - b + r
                    if 0 <= p < h and 0 <= q < w:
                        m[i * w + j, p * w + q] += kernel[a, b]
    return m


def test_blur_is_the_zero_boundary_convolution_matrix():
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((3, 3))  # not symmetric: catches a flipped kernel
    op = Blur(kernel=torch.from_numpy(kernel), normalise=False, in_shape=(1, 5, 7)).double()
    torch.testing.assert_close(dense(op), torch.from_numpy(_blur_matrix(kernel, 5, 7)))


def test_blur_matches_scipy_convolve2d():
    from scipy.signal import convolve2d

    kernel = gaussian_kernel(5, 1.0, torch.float64)
    assert float(kernel.sum()) == pytest.approx(1.0) and kernel.shape == (5, 5)
    assert float(kernel[2, 2]) == pytest.approx(1 / sum(math.exp(-(a * a + b * b) / 2)
                                                        for a in range(-2, 3) for b in range(-2, 3)))
    op = Blur(9, normalise=False).double()
    x = torch.rand(2, 1, 9, 9, dtype=torch.float64)
    for i in range(2):
        ref = convolve2d(x[i, 0].numpy(), kernel.numpy(), mode="same", boundary="fill")
        np.testing.assert_allclose(op.A(x)[i, 0].numpy(), ref, atol=1e-12)


def test_blur_norm_is_exact_for_the_paper_kernel():
    op = Blur(28)
    assert torch.linalg.matrix_norm(dense(op), ord=2).item() == pytest.approx(1.0, abs=1e-6)


def test_inpainting_is_a_pixel_selection():
    op = Inpainting(6, keep=0.25, seed=5)
    m = dense(op)
    assert m.shape == (9, 36)  # round(0.25 * 36) pixels kept
    assert bool(((m == 0) | (m == 1)).all()) and bool((m.sum(1) == 1).all()) and m.sum(0).max() == 1
    kept = m.argmax(1)
    assert bool((kept.diff() > 0).all())  # sorted, distinct
    torch.testing.assert_close(op.mask.reshape(-1).double(), m.sum(0))
    x = torch.rand(1, 1, 6, 6)
    torch.testing.assert_close(op.embed(op.A(x)), x * op.mask)


def test_inpainting_with_an_explicit_mask():
    mask = torch.zeros(1, 4, 4, dtype=torch.bool)
    mask[0, 1, 2] = mask[0, 3, 0] = True
    op = Inpainting(in_shape=(1, 4, 4), mask=mask)
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert op.A(x).tolist() == [[6.0, 12.0]]


def test_denoising_is_the_identity():
    op = Identity(5)
    torch.testing.assert_close(dense(op), torch.eye(25, dtype=torch.float64))


def test_tomography_problems_reuse_the_tomography_operator():
    full = make_operator("tomography", 56)
    assert isinstance(full, Tomography) and full.sinogram_shape == (125, 81)
    sparse = make_operator("sparse-view", 56, seed=0)
    assert sparse.sinogram_shape == (25, 81)  # default: a fifth of the angles
    assert set(sparse.geometry.angles) <= set(full.geometry.angles)
    limited = make_operator("limited-angle", 56)
    assert limited.sinogram_shape == (84, 81) and max(limited.geometry.angles) < 2 * math.pi / 3


# --- seeds, options and errors --------------------------------------------------------
@pytest.mark.parametrize("problem, options", [("cs", {"measurements": 20}), ("inpainting", {}),
                                              ("sparse-view", {"angles": 5})])
def test_seed_makes_random_operators_reproducible(problem, options):
    a, b = make_operator(problem, 12, seed=7, **options), make_operator(problem, 12, seed=7, **options)
    c = make_operator(problem, 12, seed=8, **options)
    da, db, dc = (dense(o, torch.float32) for o in (a, b, c))
    torch.testing.assert_close(da, db)
    assert da.shape != dc.shape or not torch.equal(da, dc)


def test_problem_options_and_defaults():
    assert problem_options("cs") == ("measurements", "seed")
    assert problem_options("denoising") == ()
    assert make_operator("cs", 28).out_shape == (150,)
    assert make_operator("inpainting", 28).out_shape == (196,)
    assert make_operator("deconvolution", 28, kernel_size=None).kernel.shape == (5, 5)


@pytest.mark.parametrize("problem, options, message", [
    ("xray", {}, "unknown problem 'xray'"),
    ("cs", {"angles": 5}, "does not take angles"),
    ("denoising", {"seed": 1}, "takes: no options"),
    ("cs", {"measurements": 0}, "measurements must be >= 1"),
    ("deconvolution", {"kernel_size": 4}, "positive odd integer"),
    ("deconvolution", {"kernel_width": 0.0}, "kernel_width must be finite and > 0"),
    ("inpainting", {"keep": 0.0}, r"must be in \(0, 1\]"),
    ("inpainting", {"keep": 1.5}, r"must be in \(0, 1\]"),
    ("sparse-view", {"angles": 500}, "n_angles_kept must be <="),
    ("limited-angle", {"angle_range": (1.0, 0.5)}, "angle_range"),
])
def test_bad_problems_and_options_are_clear_errors(problem, options, message):
    with pytest.raises(ValueError, match=message):
        make_operator(problem, 12, **options)


# --- a duck-typed operator (DeepInverse LinearPhysics method names) --------------------
class DuckBlur:
    """Only ``A`` and ``A_adjoint``, no genprior base class, no shapes: like ``deepinv.physics.Blur``."""

    def __init__(self, kernel: torch.Tensor, scale: float) -> None:
        self.kernel, self.scale = kernel, scale

    def A(self, x, **kwargs):
        return self.scale * F.conv2d(x, self.kernel.flip(0, 1)[None, None], padding=self.kernel.shape[-1] // 2)

    def A_adjoint(self, y, **kwargs):
        return self.scale * F.conv2d(y, self.kernel[None, None], padding=self.kernel.shape[-1] // 2)


@pytest.fixture
def blur_pair(tiny_generator):
    n = tiny_generator.n
    op = Blur(n)
    duck = DuckBlur(op.kernel, op.scale)
    with torch.no_grad():
        truth = tiny_generator(torch.randn(3, tiny_generator.latent_dim, generator=torch.Generator().manual_seed(0)))
        y = op.A(truth) + 0.02 * torch.randn(truth.shape, generator=torch.Generator().manual_seed(1))
    return op, duck, y


@pytest.mark.parametrize("method, params", [("tikhonov", {"lam": 0.05, "max_iter": 30}),
                                            ("tv", {"lam": 0.02, "max_iter": 30}),
                                            ("hard", {"lam": 0.01, "max_iter": 15}),
                                            ("relaxed", {"lam": 0.5, "mu": 0.1, "max_iter": 10})])
def test_duck_typed_operator_works_like_a_genprior_operator(method, params, blur_pair, tiny_generator):
    from genprior.methods import get_method

    op, duck, y = blur_pair
    fn = get_method(method).function
    ours = fn(op, y, generator=tiny_generator, **params)
    theirs = fn(duck, y, generator=tiny_generator, **params)
    assert theirs.x.shape == y.shape
    torch.testing.assert_close(theirs.x, ours.x, rtol=1e-3, atol=1e-4)
    assert bool(torch.isfinite(theirs.x).all())


# --- the CLI, one smoke run per problem -----------------------------------------------

@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    from genprior.data.io import save_dataset

    d = tmp_path_factory.mktemp("ops")
    g = np.random.default_rng(0)
    save_dataset(d / "small.npz", train=g.random((2, 1, 16, 16)), test=g.random((3, 1, 16, 16)), meta={"dataset": "t"})
    return d


@pytest.mark.parametrize("problem, extra", [
    ("tomography", ["--angles", "20"]),
    ("sparse-view", ["--angles", "6", "--operator-seed", "2"]),
    ("limited-angle", ["--angle-range", "0:90deg"]),
    ("cs", ["--measurements", "60", "--operator-seed", "1"]),
    ("deconvolution", ["--kernel-size", "3", "--kernel-width", "0.8"]),
    ("inpainting", ["--keep", "0.5"]),
    ("denoising", []),
])
@pytest.mark.parametrize("method", ["tv", "tikhonov"])
def test_cli_reconstructs_every_problem(small_data, problem, extra, method, capsys):
    out = small_data / f"{problem}-{method}.json"
    code = run_cli(["reconstruct", "--problem", problem, "--method", method, "--data", str(small_data / "small.npz"),
                    "--indices", "0:2", "--noise", "0.05", "--max-iter", "5", "--out", str(out), *extra])
    assert code == 0, capsys.readouterr().err
    res = json.loads(out.read_text())
    assert res["problem"] == problem and res["n_images"] == 2 and math.isfinite(res["psnr"]["mean"])


def test_cli_rejects_an_option_the_problem_does_not_take(small_data, capsys):
    code = run_cli(["reconstruct", "--problem", "cs", "--method", "tv", "--angles", "5", "--data",
                    str(small_data / "small.npz"), "--out", str(small_data / "x.json")])
    assert code == 2
    assert "problem 'cs' does not take --angles" in capsys.readouterr().err
