"""Parallel-beam tomography: ODL's default geometry, exact adjoint, norm, analytic projections."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genprior.physics.operator import adjointness_error
from genprior.physics.tomography import ParallelBeamGeometry, Tomography, system_matrices


def _centres(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x, y) of an n x n image, as documented in the module."""
    y, x = np.meshgrid(n / 2 - 0.5 - np.arange(n), np.arange(n) - n / 2 + 0.5, indexing="ij")
    return x, y


def _image(values: np.ndarray, dtype=torch.float32) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)[None, None]


# -- geometry ------------------------------------------------------------------------------
@pytest.mark.parametrize("n, angles, bins", [(56, 125, 81), (128, 285, 183), (28, 63, 41)])
def test_default_geometry_matches_odl(n, angles, bins):
    g = ParallelBeamGeometry.default(n)
    assert (g.n_angles, g.n_bins) == (angles, bins)
    assert g.detector_half_width == pytest.approx(n / math.sqrt(2))
    step = math.pi / angles
    np.testing.assert_allclose(g.angles, (np.arange(angles) + 0.5) * step)
    assert 0 < g.angles[0] < g.angles[-1] < math.pi
    s = g.bin_centres()
    assert s[0] > -g.detector_half_width and s[-1] < g.detector_half_width
    np.testing.assert_allclose(s, -s[::-1], atol=1e-12)


def test_geometry_with_angles_keeps_detector():
    g = ParallelBeamGeometry.default(56)
    sub = g.with_angles(g.angles[::5])
    assert sub.n_angles == 25 and sub.n_bins == g.n_bins
    assert sub.detector_half_width == g.detector_half_width


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(image_size=1),
        dict(image_size=56, n_angles=0),
        dict(image_size=56, n_bins=0),
        dict(image_size=56, angle_range=(1.0, 1.0)),
        dict(image_size=56, angle_range=(2.0, 1.0)),
        dict(image_size=56, angle_range=(0.0, float("nan"))),
    ],
)
def test_geometry_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        ParallelBeamGeometry.default(**kwargs)


def test_geometry_rejects_bad_angles():
    g = ParallelBeamGeometry.default(16)
    with pytest.raises(ValueError, match="at least one"):
        g.with_angles([])
    with pytest.raises(ValueError, match="increasing"):
        g.with_angles([1.0, 0.5])
    with pytest.raises(ValueError, match="finite"):
        g.with_angles([0.1, float("nan")])


# -- the operator --------------------------------------------------------------------------
def test_shapes_and_cache():
    op = Tomography(56)
    assert op.in_shape == (1, 56, 56) and op.out_shape == (1, 125, 81)
    assert op.sinogram_shape == (125, 81)
    again = Tomography.from_geometry(op.geometry)
    assert again.matrix is op.matrix and again.scale == op.scale
    assert "matrix" not in op.state_dict()


def test_adjointness_float64():
    op = Tomography(56).double()
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 1, 56, 56, generator=gen, dtype=torch.float64)
    y = torch.randn(3, 1, 125, 81, generator=gen, dtype=torch.float64)
    assert adjointness_error(op, x, y) < 1e-5


def test_norm_is_one_after_normalisation():
    from scipy.sparse import csr_matrix
    from scipy.sparse.linalg import svds

    op = Tomography(56)
    a = op.matrix
    m = csr_matrix(
        (a.values().double().numpy(), a.col_indices().numpy(), a.crow_indices().numpy()),
        shape=tuple(a.shape),
    )
    sigma = svds(m, k=1, return_singular_vectors=False, random_state=0)[0]
    assert sigma * op.scale == pytest.approx(1.0, rel=1e-3)


def test_disc_projection_matches_analytic_profile():
    n, r, ss = 56, 20.0, 8
    x, y = _centres(n)
    offsets = (np.arange(ss) + 0.5) / ss - 0.5
    disc = sum(((x + a) ** 2 + (y + b) ** 2 < r * r) for a in offsets for b in offsets) / ss**2
    op = Tomography(n, normalise=False)
    sino = op.A(_image(disc))[0, 0].numpy()
    s = op.geometry.bin_centres()
    expected = 2 * np.sqrt(np.clip(r * r - s * s, 0, None))
    err = np.abs(sino - expected[None, :])
    assert err.mean() < 0.01 * 2 * r
    assert np.abs(err.mean(axis=1)).max() < 0.02 * 2 * r  # every angle, not just on average
    assert np.abs(sino[:, np.abs(s) < r - 2] - expected[np.abs(s) < r - 2]).max() < 0.05 * 2 * r


def test_mass_conservation_for_a_smooth_image():
    n = 56
    x, y = _centres(n)
    blob = np.exp(-((x - 5) ** 2 + (y + 3) ** 2) / (2 * 6.0**2))
    op = Tomography(n, normalise=False)
    sino = op.A(_image(blob, torch.float64).float())[0, 0].double().numpy()
    width = 2 * op.geometry.detector_half_width / op.geometry.n_bins
    rel = np.abs(sino.sum(axis=1) * width / blob.sum() - 1)
    # Near 0 and pi/2 the rays run along pixel rows and the bin spacing (0.98) aliases
    # against the pixel pitch (1): a few percent there, far less at every other angle.
    assert rel.max() < 0.05
    assert np.median(rel) < 1e-3


def test_single_pixel_lands_where_the_convention_says():
    n, row, col = 32, 5, 22
    img = np.zeros((n, n))
    img[row, col] = 1.0
    op = Tomography(n, normalise=False)
    sino = op.A(_image(img))[0, 0].numpy()
    g = op.geometry
    s, theta = g.bin_centres(), np.asarray(g.angles)
    px, py = col - n / 2 + 0.5, n / 2 - 0.5 - row
    s0 = px * np.cos(theta) + py * np.sin(theta)  # detector coordinate of the centre
    dist = np.abs(s[None, :] - s0[:, None])
    assert np.all(sino[dist > math.sqrt(0.5) + 1e-6] == 0)
    assert np.all(sino.max(axis=1) <= math.sqrt(2) + 1e-5)
    best = s[sino.argmax(axis=1)]
    assert np.all(np.abs(best - s0) <= 2 * g.detector_half_width / g.n_bins)


def test_batch_equals_one_by_one_and_float64():
    op = Tomography(28)
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    batch = op.A(x)
    single = torch.cat([op.A(x[i : i + 1]) for i in range(4)])
    torch.testing.assert_close(batch, single)
    y = torch.rand_like(batch)
    torch.testing.assert_close(
        op.A_adjoint(y), torch.cat([op.A_adjoint(y[i : i + 1]) for i in range(4)])
    )
    op64 = Tomography(28).double()
    assert op64.matrix.dtype == torch.float64
    out = op64.A(x.double())
    assert out.dtype == torch.float64
    torch.testing.assert_close(out.float(), batch, rtol=1e-5, atol=1e-6)


def test_wrong_shape_and_dtype_are_reported():
    op = Tomography(28)
    with pytest.raises(ValueError, match=r"\[B, 1, 28, 28\]"):
        op.A(torch.zeros(2, 1, 27, 28))
    with pytest.raises(ValueError, match=r"\[B, 1, 63, 41\]"):
        op.A_adjoint(torch.zeros(2, 1, 28, 28))
    with pytest.raises(TypeError, match="double"):
        op.A(torch.zeros(1, 1, 28, 28, dtype=torch.float64))


def test_gradient_is_the_adjoint():
    op = Tomography(16).double()
    x = torch.rand(2, 1, 16, 16, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(2, 1, *op.sinogram_shape, dtype=torch.float64)
    (op.A(x) * upstream).sum().backward()
    torch.testing.assert_close(x.grad, op.A_adjoint(upstream))
    small = Tomography(6).double()
    x6 = torch.rand(1, 1, 6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(small.A, x6)


# -- sparse view and limited angle ---------------------------------------------------------
def test_sparse_view():
    op = Tomography.sparse_view(56, 30, seed=3)
    full = ParallelBeamGeometry.default(56)
    assert op.sinogram_shape == (30, 81)
    assert set(op.geometry.angles) <= set(full.angles)
    assert list(op.geometry.angles) == sorted(op.geometry.angles)
    assert Tomography.sparse_view(56, 30, seed=3).geometry == op.geometry
    assert Tomography.sparse_view(56, 30, seed=4).geometry != op.geometry
    op = op.double()
    x = torch.randn(2, 1, 56, 56, dtype=torch.float64)
    y = torch.randn(2, 1, 30, 81, dtype=torch.float64)
    assert adjointness_error(op, x, y) < 1e-5


def test_limited_angle():
    op = Tomography.limited_angle(56, (0.0, math.pi / 2))
    assert op.sinogram_shape == (63, 81)
    assert max(op.geometry.angles) < math.pi / 2
    op = op.double()
    x = torch.randn(2, 1, 56, 56, dtype=torch.float64)
    y = torch.randn(2, 1, 63, 81, dtype=torch.float64)
    assert adjointness_error(op, x, y) < 1e-5
    assert Tomography.limited_angle(28, (0.2, 1.0), n_angles=10).sinogram_shape == (10, 41)


@pytest.mark.parametrize("n_kept", [0, 126, 2.5])
def test_sparse_view_rejects_bad_counts(n_kept):
    with pytest.raises(ValueError, match="n_angles_kept"):
        Tomography.sparse_view(56, n_kept, seed=0)


@pytest.mark.parametrize("angle_range", [(1.0, 1.0), (1.0, 0.5), (0.0, 4.0), (0.0, float("inf"))])
def test_limited_angle_rejects_bad_ranges(angle_range):
    with pytest.raises(ValueError, match="angle_range"):
        Tomography.limited_angle(56, angle_range)


def test_system_matrix_is_exact_for_an_axis_aligned_ray():
    # At pi/2 (the middle angle of an odd count) rays are horizontal: every non-central
    # ray crosses n pixels of length exactly 1 (or misses the image).
    g = ParallelBeamGeometry.default(16, n_angles=3, n_bins=9)
    assert g.angles[1] == pytest.approx(math.pi / 2)
    a = system_matrices(g)[0].to_dense().numpy().reshape(3, 9, 16 * 16)[1]
    s = g.bin_centres()
    inside = np.abs(s) < 8
    np.testing.assert_allclose(a[inside].sum(axis=1), 16.0, rtol=1e-6)
    np.testing.assert_allclose(a[~inside].sum(axis=1), 0.0)


def test_matrices_hold_int32_indices_and_multiply_as_int64_ones():
    """MKL's sparse product takes 32-bit indices: int64 ones would be converted on every call."""
    A, At = system_matrices(ParallelBeamGeometry.default(16))
    x = torch.rand(16 * 16, 3, generator=torch.Generator().manual_seed(0))
    y = torch.rand(A.shape[0], 3, generator=torch.Generator().manual_seed(1))
    for matrix, v in ((A, x), (At, y)):
        assert matrix.crow_indices().dtype == matrix.col_indices().dtype == torch.int32
        wide = torch.sparse_csr_tensor(matrix.crow_indices().long(), matrix.col_indices().long(),
                                       matrix.values(), size=matrix.shape, check_invariants=True)
        assert torch.equal(matrix @ v, wide @ v)
    op = Tomography(16).double()  # float64 values keep their int32 indices and still multiply
    assert op.matrix.col_indices().dtype == torch.int32 and op(torch.rand(2, 1, 16, 16).double()).dtype == torch.float64
