"""The optional operator contract for denoiser and diffusion methods: ``prox_l2`` and ``svd``.

Every problem of :data:`test_operators.REGISTRY` is checked against its dense float64
matrix: the proximal step (closed form or conjugate gradient) against a dense solve of
``(I + gamma A^T A) x = z + gamma A^T y`` with a different gamma per image, and the SVD
(where the operator has one) against ``A``, ``A^T`` and ``A^T A``; the others must decline
with a clear error.  Then the batched conjugate gradient itself: per-image stopping, the
cap, warm starts.
"""

from __future__ import annotations

import math

import pytest
import torch

from genprior.errors import InputError
from genprior.physics import Blur, CompressedSensing, Identity, Inpainting, Tomography
from genprior.physics.linear_solve import CG_MAX_ITER, conjugate_gradient, prox_l2, prox_l2_cg
from genprior.physics.svd import has_svd, operators_with_svd, require_svd
from test_operators import DEVICES, REGISTRY, DuckBlur, build, dense

WITH_SVD = {"cs", "inpainting", "denoising"}  # problems whose operators have an exact SVD
GAMMAS = [0.0, 0.3, 5.0, 40.0]  # one per image


@pytest.fixture(scope="module", params=sorted(REGISTRY))
def case(request):
    """(registry name, float64 operator, its dense matrix)."""
    op = build(request.param)
    op.registry_name = request.param  # lets dense() build a float64 copy
    return request.param, build(request.param).double(), dense(op)


def _draw(op, b: int = len(GAMMAS), dtype=torch.float64, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(b, *op.in_shape, generator=g, dtype=dtype)
    y = torch.randn(b, *op.out_shape, generator=g, dtype=dtype)
    return z, y


def _dense_prox(m: torch.Tensor, z: torch.Tensor, y: torch.Tensor, gammas) -> torch.Tensor:
    eye = torch.eye(m.shape[1], dtype=torch.float64)
    rows = [torch.linalg.solve(eye + g * m.T @ m, z[i].reshape(-1).double() + g * m.T @ y[i].reshape(-1).double())
            for i, g in enumerate(gammas)]
    return torch.stack(rows).reshape(z.shape)


# --- prox_l2 on every problem ---------------------------------------------------------
def test_prox_l2_is_the_dense_solve(case):
    name, op, m = case
    z, y = _draw(op)
    expected = _dense_prox(m, z, y, GAMMAS)
    got = op.prox_l2(z, y, torch.tensor(GAMMAS, dtype=torch.float64), tol=1e-12, max_iter=500)
    assert got.shape == z.shape and got.dtype == torch.float64
    torch.testing.assert_close(got, expected, rtol=1e-8, atol=1e-9)
    assert op.closed_form_prox == (name in WITH_SVD)


def test_prox_l2_in_float32_with_the_default_tolerance(case):
    name, _, m = case
    op = build(name)
    z, y = _draw(op, dtype=torch.float32)
    got = op.prox_l2(z, y, torch.tensor(GAMMAS))
    assert got.dtype == torch.float32
    expected = _dense_prox(m, z, y, GAMMAS)
    error = (got.double() - expected).reshape(len(z), -1).norm(dim=1) / expected.reshape(len(z), -1).norm(dim=1)
    assert float(error.max()) < 1e-4


def test_prox_l2_with_one_gamma_equals_the_same_gamma_per_image(case):
    _, op, _ = case
    z, y = _draw(op)
    torch.testing.assert_close(op.prox_l2(z, y, 2.5, tol=1e-12), op.prox_l2(z, y, torch.full((4,), 2.5), tol=1e-12))
    torch.testing.assert_close(op.prox_l2(z, y, 0.0), z)  # no data step: x = z


@pytest.mark.parametrize("gamma, message", [
    (-1.0, r"finite and >= 0"),
    (float("nan"), r"finite and >= 0"),
    (torch.ones(3), r"one number or one per image \(\[4\]\)"),
    (torch.ones(4, 1), r"one number or one per image"),
    ("1", "a number or a \\[B\\] tensor"),
])
@pytest.mark.parametrize("name", ["deconvolution", "cs", "inpainting"])
def test_bad_gamma_is_a_clear_error(name, gamma, message):
    op = build(name)
    z, y = _draw(op, dtype=torch.float32)
    with pytest.raises(InputError, match=message):
        op.prox_l2(z, y, gamma)


@pytest.mark.parametrize("name", ["deconvolution", "cs", "denoising"])
def test_prox_l2_shapes_are_checked(name):
    op = build(name)
    z, y = _draw(op, dtype=torch.float32)
    with pytest.raises(InputError, match="prox_l2 point z must have shape"):
        op.prox_l2(z[:, :, :-1], y, 1.0)
    with pytest.raises(InputError, match="as many images as measurements"):
        op.prox_l2(z[:2], y, 1.0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["cs", "deconvolution", "inpainting", "denoising"])
def test_prox_and_svd_follow_the_operator_to_its_device(name, device):
    op, moved = build(name), build(name).to(device)
    z, y = _draw(op, dtype=torch.float32)
    got = moved.prox_l2(z.to(device), y.to(device), torch.tensor(GAMMAS))
    assert got.device.type == device
    torch.testing.assert_close(got.cpu(), op.prox_l2(z, y, torch.tensor(GAMMAS)), rtol=1e-4, atol=1e-5)
    if has_svd(moved):
        svd = moved.svd()
        coefficients = svd.V_adjoint(z.to(device))
        assert svd.mask.device.type == coefficients.device.type == device
        torch.testing.assert_close(svd.A(z.to(device)).cpu(), op.A(z), rtol=1e-4, atol=1e-5)


# --- the SVD --------------------------------------------------------------------------
def _matrix(fn, shape) -> torch.Tensor:
    """The matrix of a linear map on ``[B, *shape]`` tensors, columns from the unit basis."""
    n = math.prod(shape)
    return fn(torch.eye(n, dtype=torch.float64).reshape(n, *shape)).reshape(n, -1).T


def test_svd_reproduces_the_operator_or_declines(case):
    name, op, m = case
    if name not in WITH_SVD:
        assert not has_svd(op)
        with pytest.raises(InputError, match=rf"ddrm needs an operator with an exact SVD: {op.name} has none "
                                             r"\(operators with one: .*CompressedSensing.*Identity.*Inpainting"):
            require_svd(op, "ddrm")
        return
    assert has_svd(op)
    svd = require_svd(op, "ddrm")
    n, k = m.shape[1], min(m.shape)
    assert svd.mask.shape == (1, *op.in_shape)
    torch.testing.assert_close(_matrix(svd.A, op.in_shape), m)
    torch.testing.assert_close(_matrix(svd.A_adjoint, op.out_shape), m.T)
    torch.testing.assert_close(_matrix(svd.A_adjoint_A, op.in_shape), m.T @ m)
    v, vt = _matrix(svd.V, op.in_shape), _matrix(svd.V_adjoint, op.in_shape)
    u, ut = _matrix(svd.U, op.in_shape), _matrix(svd.U_adjoint, op.out_shape)
    eye = torch.eye(n, dtype=torch.float64)
    torch.testing.assert_close(v.T @ v, eye)
    torch.testing.assert_close(vt, v.T)
    torch.testing.assert_close(ut, u.T)
    s = svd.mask.reshape(-1).double()
    torch.testing.assert_close(u @ torch.diag(s) @ v.T, m)
    used = s != 0  # U is orthonormal on the coefficients that carry a singular value
    torch.testing.assert_close(u[:, used].T @ u[:, used], torch.eye(int(used.sum()), dtype=torch.float64))
    torch.testing.assert_close(s.sort(descending=True).values[:k], torch.linalg.svdvals(m)[:k])


@pytest.mark.parametrize("name", sorted(WITH_SVD))
def test_svd_prox_in_deepinv_form_agrees_with_the_closed_form(name):
    op = build(name).double()
    z, y = _draw(op)
    g = torch.tensor(GAMMAS, dtype=torch.float64)
    svd = op.svd()
    b = z + g.reshape(-1, *[1] * len(op.in_shape)) * op.A_adjoint(y)
    deepinv = svd.V(svd.V_adjoint(b) / (1 + g.reshape(-1, *[1] * len(op.in_shape)) * svd.mask ** 2))
    torch.testing.assert_close(op.prox_l2(z, y, g), deepinv)


def test_cs_svd_with_more_measurements_than_pixels():
    op = CompressedSensing(in_shape=(1, 3, 3), measurements=14, seed=3).double()
    m, svd = dense(op), op.svd()
    torch.testing.assert_close(_matrix(svd.A, op.in_shape), m)
    u = _matrix(svd.U, op.in_shape)
    torch.testing.assert_close(u.T @ u, torch.eye(9, dtype=torch.float64))
    z, y = _draw(op)
    torch.testing.assert_close(op.prox_l2(z, y, torch.tensor(GAMMAS, dtype=torch.float64)),
                               _dense_prox(m, z, y, GAMMAS))


def test_cs_svd_is_cached_until_the_operator_changes():
    op = CompressedSensing(6, measurements=10)
    first = op.svd()
    assert op.svd() is first and first.mask.dtype == torch.float32
    op.double()
    second = op.svd()
    assert second is not first and second.mask.dtype == torch.float64
    op.scale = op.scale * 2
    torch.testing.assert_close(op.svd().mask, 2 * second.mask)


def test_svd_results_keep_the_input_dtype():
    op = CompressedSensing(6, measurements=10)
    x = torch.rand(2, 1, 6, 6)
    svd = op.svd()
    assert svd.V_adjoint(x).dtype == svd.U(x).dtype == op.prox_l2(x, op.A(x), 1.0).dtype == torch.float32
    torch.testing.assert_close(svd.A(x), op.A(x), rtol=1e-5, atol=1e-6)


def test_operators_with_svd_lists_the_overriding_classes():
    names = operators_with_svd()
    assert {"CompressedSensing", "Identity", "Inpainting"} <= set(names)
    assert not {"Blur", "Tomography"} & set(names)
    assert Identity(4).svd().mask.shape == (1, 1, 4, 4) and Inpainting(4).svd().mask.sum() == 4


def test_a_decomposable_duck_physics_is_its_own_svd():
    class Decomposable:  # the DeepInverse DecomposablePhysics names
        mask = torch.ones(1, 1, 2, 2)

        def U(self, c):
            return c

        U_adjoint = V = V_adjoint = U

    duck = Decomposable()
    assert has_svd(duck) and require_svd(duck) is duck
    assert not has_svd(DuckBlur(torch.ones(3, 3), 1.0))
    with pytest.raises(InputError, match="ddrm needs an operator with an exact SVD: DuckBlur has none"):
        require_svd(DuckBlur(torch.ones(3, 3), 1.0), "ddrm")


# --- conjugate gradient ---------------------------------------------------------------
def _diagonal_system(sizes=(1, 2, 3, 5)):
    """``M = diag(1..6)``; image ``i``'s right-hand side touches ``sizes[i]`` eigenvalues, so
    exact CG from zero takes exactly ``sizes[i]`` iterations."""
    d = torch.arange(1.0, 7.0, dtype=torch.float64)
    b = torch.zeros(len(sizes), 6, dtype=torch.float64)
    for i, k in enumerate(sizes):
        b[i, :k] = torch.arange(1.0, k + 1.0)
    calls = []

    def apply(v, rows):
        calls.append(v.shape[0] if rows is None else len(rows))
        return v * d

    return d, b, apply, calls


def test_cg_stops_per_image():
    d, b, apply, calls = _diagonal_system()
    r = conjugate_gradient(apply, b, tol=1e-10)
    assert r.iterations.tolist() == [1, 2, 3, 5] and bool(r.converged.all())
    torch.testing.assert_close(r.x, b / d)
    assert calls == [4, 3, 2, 1, 1]  # finished images are no longer multiplied


def test_cg_on_the_whole_batch_gives_the_same_answer():
    d, b, apply, calls = _diagonal_system()
    compact = conjugate_gradient(apply, b, tol=1e-10)
    whole = conjugate_gradient(apply, b, tol=1e-10, compact=False)
    torch.testing.assert_close(whole.x, compact.x)
    assert whole.iterations.tolist() == compact.iterations.tolist()
    assert set(calls[5:]) == {4}


def test_cg_respects_its_cap_and_warm_start():
    d, b, apply, _ = _diagonal_system()
    r = conjugate_gradient(apply, b, tol=1e-10, max_iter=2)
    assert r.iterations.tolist() == [1, 2, 2, 2] and r.converged.tolist() == [True, True, False, False]
    again = conjugate_gradient(apply, b, x0=b / d, tol=1e-10)
    assert again.iterations.tolist() == [0, 0, 0, 0] and bool(again.converged.all())
    assert conjugate_gradient(apply, b, max_iter=0).iterations.tolist() == [0, 0, 0, 0]
    for bad, message in [({"tol": -1.0}, "tol"), ({"max_iter": 2.5}, "max_iter"), ({"x0": b[:2]}, "starting point")]:
        with pytest.raises(InputError, match=message):
            conjugate_gradient(apply, b, **bad)


def test_prox_cg_stops_per_image_on_a_real_operator():
    op = build("deconvolution")
    z, y = _draw(op, dtype=torch.float32)
    r = prox_l2_cg(op, z, y, torch.tensor(GAMMAS))
    its = r.iterations.tolist()
    assert its[0] == 0 and its == sorted(its) and its[-1] > its[1] and bool(r.converged.all())
    assert its[-1] <= CG_MAX_ITER
    capped = prox_l2_cg(op, z, y, torch.tensor(GAMMAS), max_iter=3)
    assert max(capped.iterations.tolist()) == 3 and not bool(capped.converged[-1])


def test_prox_helper_serves_duck_typed_physics():
    op = Blur(10)
    duck = DuckBlur(op.kernel, op.scale)
    z, y = _draw(op, dtype=torch.float32)
    g = torch.tensor(GAMMAS)
    torch.testing.assert_close(prox_l2(duck, z, y, g), op.prox_l2(z, y, g), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(prox_l2(op, z, y, g), op.prox_l2(z, y, g))

    class OwnProx(DuckBlur):
        def prox_l2(self, z, y, gamma):
            return z + 1

    assert torch.equal(prox_l2(OwnProx(op.kernel, op.scale), z, y, g), z + 1)


def test_tomography_prox_warm_start_from_the_answer_takes_no_iteration():
    op = Tomography(12, n_angles=9, n_bins=15).double()
    z, y = _draw(op)
    x = op.prox_l2(z, y, 3.0, tol=1e-10)
    r = prox_l2_cg(op, z, y, 3.0, tol=1e-8, x0=x)
    assert r.iterations.tolist() == [0, 0, 0, 0]
