"""The report card's criteria (A1-A3, B1-B2, memorisation) on small fixed generators."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from conftest import TinyAutoencoder, TinyGenerator
from genprior.evaluation import criteria as C
from genprior.evaluation.report import EvaluationSettings, evaluate_generator, write_report


class ConstantGenerator(nn.Module):
    """A collapsed generator: every code maps to the same image."""

    def __init__(self, image: torch.Tensor, latent_dim: int = 3) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.image = nn.Parameter(image.clone().reshape(1, *image.shape[-3:]))
        self.scale = nn.Parameter(torch.zeros(()))  # keeps G differentiable in z (with zero gradient)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.image.expand(z.shape[0], -1, -1, -1) + self.scale * z.sum(1)[:, None, None, None]


def samples_of(g: nn.Module, n: int, seed: int) -> torch.Tensor:
    return C.prior_samples(g, n, seed=seed)[1]


@pytest.fixture(scope="module")
def world():
    """Data drawn from a tiny generator's own distribution: the generator is a perfect model of it."""
    g = TinyAutoencoder(latent_dim=3, n=8)
    train, test = samples_of(g, 600, seed=1), samples_of(g, 300, seed=2)
    return g, train, test


# ----------------------------------------------------------------------------- A3


def test_emd_of_a_set_with_itself_is_zero_and_grows_with_a_shift():
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(200, 1, 6, 6, generator=gen)
    assert C.exact_emd(a, a)["emd"] == pytest.approx(0.0, abs=1e-10)
    values = [C.exact_emd(a, a + s)["emd"] for s in (0.05, 0.1, 0.2)]
    assert values[0] < values[1] < values[2]
    # a translation by v costs exactly ||v||^2 (36 pixels shifted by s each)
    for s, v in zip((0.05, 0.1, 0.2), values):
        assert v == pytest.approx(36 * s**2, rel=1e-5)  # float32 images
    res = C.exact_emd(a, a + 0.1)
    assert res["converged"] and res["warning"] is None and res["n"] == res["m"] == 200


def test_sliced_estimate_is_exact_for_a_translation_and_a_lower_bound_otherwise():
    gen = torch.Generator().manual_seed(1)
    a = torch.rand(150, 1, 5, 5, generator=gen)
    shifted = C.distribution_distance(a, a + 0.2, n_projections=4000, seed=0)
    assert shifted["agreement"] == pytest.approx(1.0, rel=0.1)
    b = torch.rand(150, 1, 5, 5, generator=gen) ** 2
    other = C.distribution_distance(a, b, n_projections=2000, seed=0)
    assert 0 < other["agreement"] < 1.05
    assert other["sliced"]["dimension"] == 25


def test_emd_reports_nonconvergence():
    gen = torch.Generator().manual_seed(2)
    res = C.exact_emd(torch.rand(300, 1, 4, 4, generator=gen), torch.rand(300, 1, 4, 4, generator=gen),
                      num_iter_max=10)
    assert not res["converged"] and res["warning"]


# ----------------------------------------------------------------------------- A1, A2


def test_range_coverage_finds_codes_of_images_in_the_range(world):
    g = TinyGenerator(latent_dim=3, n=8)
    z_true = torch.randn(24, 3, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        x = g(z_true)
    res = C.range_coverage(g, x, init="random", restarts=4, max_iter=500, tol=1e-9, batch_size=10)
    assert res["summary"]["init"] == "random" and res["summary"]["n"] == 24
    assert res["nrmse"].max() < 1e-3
    assert torch.allclose(res["z"], z_true, atol=1e-2)
    assert res["summary"]["below"] == {"0.1": 1.0, "0.2": 1.0, "0.3": 1.0}
    assert res["reconstructions"].shape == x.shape and res["psnr"].min() > 50


def test_range_coverage_uses_the_encoder_when_there_is_one(world):
    g, _, test = world
    res = C.range_coverage(g, test[:20], max_iter=3)
    assert res["summary"]["init"] == "encoder" and res["nrmse"].max() < 1e-3


def test_range_coverage_by_lbfgs_reaches_the_objective_of_algorithm_1():
    # images off the range (noise added), so the fits stop at a positive objective, from the same random starts
    g = TinyGenerator(latent_dim=4, n=8, seed=3)
    gen = torch.Generator().manual_seed(6)
    with torch.no_grad():
        x = (g(torch.randn(12, 4, generator=gen)) + 0.05 * torch.randn(12, 1, 8, 8, generator=gen)).clamp(0, 1)
    old = C.range_coverage(g, x, init="random", restarts=4, solver="backtracking", batch_size=5)
    new = C.range_coverage(g, x, init="random", restarts=4, solver="lbfgs", batch_size=5)
    assert old["summary"]["solver"] == "backtracking" and new["summary"]["solver"] == "lbfgs"
    assert (old["objective"] > 0).all() and old["objective"].shape == (12,)
    assert (new["objective"] <= old["objective"] * (1 + 1e-4)).all()
    assert new["iterations"].double().mean() < old["iterations"].double().mean()
    # the objective returned is the fit's ||G(z*) - x||^2
    assert torch.allclose(new["objective"], ((new["reconstructions"] - x) ** 2).sum((1, 2, 3)).double(), rtol=1e-4)


def test_range_coverage_passes_the_solver_to_the_projection(world, monkeypatch):
    import genprior.methods.projection as P

    seen = []
    real = P.project_to_range
    monkeypatch.setattr(P, "project_to_range", lambda *a, **k: seen.append(k["solver"]) or real(*a, **k))
    g, _, test = world
    assert C.range_coverage(g, test[:4], max_iter=2, solver="gauss-newton")["summary"]["solver"] == "gauss-newton"
    assert C.range_coverage(g, test[:4], max_iter=2, solver="auto")["summary"]["solver"] == "lbfgs"
    assert C.range_coverage(g, test[:4], max_iter=2)["summary"]["solver"] == C.A1_SOLVER
    assert seen == ["gauss-newton", "auto", C.A1_SOLVER]
    # the report card passes its setting to A1 and A2
    seen.clear()
    out = evaluate_generator(g, test[:6], settings=EvaluationSettings.quick(n=4, emd_n=6, mem_n=6, off_n=2, max_iter=2,
                                                                            solver="lbfgs"))
    assert out["A1"]["summary"]["solver"] == "lbfgs" and set(seen) == {"lbfgs"} and len(seen) == 4


def test_the_paper_experiments_fit_a1_by_algorithm_1_whatever_the_library_default():
    from genprior.experiments.paper.generators import EVALUATION, evaluation_settings

    assert EvaluationSettings().solver != "backtracking"  # the library's default is the faster fit
    full, quick = evaluation_settings(False, 10_000), evaluation_settings(True, 10)
    assert full.solver == quick.solver == "backtracking"
    assert full.n == EVALUATION["n"] and quick.n == 10


@pytest.mark.parametrize("call", [
    lambda g, x: C.range_coverage(g, x, solver="newton"),
    lambda g, x: EvaluationSettings(solver="newton").resolved(x.shape[0]),
])
def test_an_unknown_a1_solver_is_a_one_line_input_error(world, call):
    from genprior.errors import InputError

    g, _, test = world
    with pytest.raises(InputError) as err:
        call(g, test[:3])
    message = str(err.value)
    assert "\n" not in message and "'newton'" in message and "lbfgs" in message and "backtracking" in message


def test_off_distribution_images_are_fitted_worse(world):
    g, _, test = world
    sets = C.off_distribution_images(test, n=12, seed=0, other=torch.rand(5, 1, 16, 16), other_name="big")
    assert set(sets) == {"noise", "inverted", "shifted", "big"}
    assert all(v.shape[1:] == test.shape[1:] for v in sets.values()) and sets["big"].shape[0] == 5
    a1 = C.range_coverage(g, test[:30], max_iter=20)
    a2 = C.off_distribution_fit(g, {"noise": sets["noise"]}, test_nrmse=a1["nrmse"], max_iter=20)
    assert a2["noise"]["summary"]["auroc"] == 1.0
    assert a2["noise"]["summary"]["nrmse"]["median"] > 10 * a1["summary"]["nrmse"]["median"]
    # the fraction below each NRMSE threshold counts the in-range images only (noise is fitted badly)
    mixed = C.range_coverage(g, torch.cat([test[:10], sets["noise"][:5]]), max_iter=20)
    assert mixed["nrmse"][10:].min() > 0.1
    assert mixed["summary"]["below"]["0.1"] == pytest.approx(10 / 15)


# ----------------------------------------------------------------------------- memorisation


def test_nearest_neighbours_match_brute_force():
    gen = torch.Generator().manual_seed(3)
    q, r = torch.rand(37, 1, 4, 4, generator=gen), torch.rand(53, 1, 4, 4, generator=gen)
    d, i = C.nearest_neighbours(q, r, chunk=8)
    full = torch.cdist(q.reshape(37, -1).double(), r.reshape(53, -1).double())
    assert torch.equal(i, full.argmin(1))
    assert torch.allclose(d, full.min(1).values, atol=1e-5)


def test_memorisation_flags_copies_and_passes_fresh_samples(world):
    g, train, test = world
    fresh = C.memorisation(samples_of(g, 300, seed=3), train, test)
    copies = C.memorisation(train[:300] + 1e-4, train, test)
    assert fresh["copy_fraction"] < 0.15 and abs(fresh["p_gen_farther"] - 0.5) < 0.1
    assert copies["copy_fraction"] == 1.0 and copies["p_gen_farther"] < 0.01 and copies["z_score"] < -10
    assert fresh["gen_distance"].shape == (300,) and 0.7 < fresh["median_ratio"] < 1.3


# ----------------------------------------------------------------------------- B2, B1


def test_latent_statistics_accept_the_prior_and_reject_a_wrong_scale():
    z = torch.randn(2000, 6, generator=torch.Generator().manual_seed(4))
    good = C.latent_statistics(z)["summary"]
    bad = C.latent_statistics(3 * z + 1)["summary"]
    assert good["ks_norm"] < 1.5 * good["ks_critical"] and good["ks_marginal_max"] < 1.5 * good["ks_critical"]
    assert good["kl_gaussian"] < 0.02 and good["norm_over_sqrt_d"] == pytest.approx(1.0, abs=0.1)
    assert bad["ks_norm"] > 0.5 and bad["kl_gaussian"] > 5 and bad["ks_marginal_max"] > 0.3
    assert len(good["mean"]) == len(good["std"]) == len(good["ks_marginal"]) == 6
    P = C.random_projections(6, k=3, seed=0)
    assert torch.allclose(P @ P.transpose(1, 2), torch.eye(2, dtype=P.dtype).expand(3, 2, 2), atol=1e-12)
    assert C.latent_statistics(z)["projected_codes"].shape == (3, 2000, 2)


def test_far_from_prior_samples_and_interpolation_grid(world):
    g, _, test = world
    far = C.far_from_prior_samples(g, radii=(1, 4), n=5, reference=test)
    assert far["images"].shape == (2, 5, 1, 8, 8)
    rows = far["summary"]["radii"]
    assert rows[1]["radius"] == pytest.approx(4 * math.sqrt(3)) and "median_nn_distance" in rows[0]
    z = torch.randn(3, 3, generator=torch.Generator().manual_seed(6))
    grid = C.interpolation_grid(g, z[0], z[1], z[2])
    assert grid.shape == (5, 5, 1, 8, 8)
    with torch.no_grad():
        corners = g(z)
    assert torch.allclose(grid[0, 0], corners[0], atol=1e-6)
    assert torch.allclose(grid[-1, 0], corners[1], atol=1e-6)
    assert torch.allclose(grid[0, -1], corners[2], atol=1e-6)


def test_local_lipschitz_of_a_linear_generator_lies_between_its_singular_values():
    class Linear(nn.Module):
        latent_dim = 4

        def __init__(self):
            super().__init__()
            self.A = nn.Parameter(torch.randn(16, 4, generator=torch.Generator().manual_seed(7)))

        def forward(self, z):
            return (z @ self.A.T).reshape(-1, 1, 4, 4)

    g = Linear()
    s = torch.linalg.svdvals(g.A.detach())
    res = C.local_lipschitz(g, torch.randn(10, 4), n_paths=6, n_points=5, n_directions=3)
    assert res["values"].shape == (6 * 5 * 3,)
    assert float(res["values"].min()) >= float(s.min()) * 0.999 and float(res["values"].max()) <= float(s.max()) * 1.001


# ----------------------------------------------------------------------------- collapse, report


def test_a_collapsed_generator_scores_worse_than_a_good_one(world):
    g, train, test = world
    collapsed = ConstantGenerator(train.mean(0))
    settings = EvaluationSettings(n=60, emd_n=200, mem_n=200, off_n=5, max_iter=30, restarts=2,
                                  n_projections=100, lipschitz_paths=5)
    good = evaluate_generator(g, test, train, settings=settings)
    bad = evaluate_generator(collapsed, test, train, settings=settings)
    # A1: the constant image fits no test image well
    assert bad["A1"]["summary"]["nrmse"]["median"] > 5 * good["A1"]["summary"]["nrmse"]["median"]
    # A3: exact EMD and the sliced estimate
    assert bad["A3"]["emd"]["emd"] > 5 * good["A3"]["emd"]["emd"]
    assert bad["A3"]["sliced"]["scaled"] > good["A3"]["sliced"]["scaled"]
    # memorisation: one training image is everybody's nearest neighbour, far from the test pattern
    assert bad["memorisation"]["distinct_neighbours"] < 0.05 < 0.7 < good["memorisation"]["distinct_neighbours"]
    assert abs(bad["memorisation"]["p_gen_farther"] - 0.5) > 2 * abs(good["memorisation"]["p_gen_farther"] - 0.5)
    assert set(good["timings"]) == {"A1", "A2", "A3", "B2", "far", "B1", "memorisation"}


def test_write_report_writes_every_promised_file(world, tmp_path):
    from genprior.evaluation.report import FIGURES, METRICS, REPORT

    g, train, test = world
    settings = EvaluationSettings.quick(n=20, emd_n=50, mem_n=50, off_n=4, max_iter=5)
    models = {"ae": g, "gan-like": TinyGenerator(latent_dim=3, n=8, seed=1)}
    metrics = write_report(models, test, tmp_path, train=train, settings=settings, data_info={"path": "x.npz"})
    for name in [METRICS, REPORT, *FIGURES.values()]:
        assert (tmp_path / name).stat().st_size > 0, name
    for name in FIGURES.values():
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((tmp_path / METRICS).read_text())
    assert saved == json.loads(json.dumps(metrics)) and list(saved["models"]) == ["ae", "gan-like"]
    assert saved["models"]["ae"]["A1"]["init"] == "encoder" and saved["models"]["gan-like"]["A1"]["init"] == "random"
    for key in ("A1", "A2", "A3", "B2", "B1", "memorisation"):
        assert key in saved["models"]["ae"]["timings"] or key == "B2"
    assert saved["reference"]["emd_test_train"]["emd"]["emd"] > 0
    report = (tmp_path / REPORT).read_text()
    assert "| criterion | metric | good | ae | gan-like |" in report
    assert all(f"]({f})" in report for f in FIGURES.values())


def test_write_report_with_a_cache_reuses_each_finished_model(world, tmp_path, monkeypatch):
    import genprior.evaluation.report as report

    g, train, test = world
    settings = EvaluationSettings.quick(n=20, emd_n=50, mem_n=50, off_n=4, max_iter=5)
    models = {"ae": g, "gan-like": TinyGenerator(latent_dim=3, n=8, seed=1)}
    first = write_report(models, test, tmp_path / "a", train=train, settings=settings, cache_dir=tmp_path / "cache")
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["ae.pt", "gan-like.pt"]
    (tmp_path / "cache" / "gan-like.pt").unlink()  # as if killed while evaluating the second model
    evaluated = []
    real = report.evaluate_generator
    monkeypatch.setattr(report, "evaluate_generator", lambda g, *a, **k: evaluated.append(g) or real(g, *a, **k))
    again = write_report(models, test, tmp_path / "b", train=train, settings=settings, cache_dir=tmp_path / "cache")
    assert evaluated == [models["gan-like"]]  # only the model without a saved evaluation
    assert again["models"]["ae"] == first["models"]["ae"]  # loaded, timings included
    recomputed, before = again["models"]["gan-like"], first["models"]["gan-like"]  # the same numbers
    assert recomputed["A1"]["nrmse"] == before["A1"]["nrmse"]
    assert recomputed["A3"]["emd"]["emd"] == before["A3"]["emd"]["emd"]
    (tmp_path / "cache" / "ae.pt").write_bytes(b"not a torch file")  # a damaged cache is evaluated again
    said = []
    evaluated.clear()
    write_report(models, test, tmp_path / "c", train=train, settings=settings, cache_dir=tmp_path / "cache",
                 log=said.append)
    assert evaluated == [models["ae"]] and any("ae.pt is unusable" in line for line in said)


def test_settings_reject_sizes_beyond_the_data():
    with pytest.raises(ValueError, match="--emd-n 500 is larger than the 300 test images"):
        EvaluationSettings(emd_n=500).resolved(300)
    with pytest.raises(ValueError, match="--n 301"):
        EvaluationSettings(n=301).resolved(300)
    s = EvaluationSettings().resolved(300)
    assert (s.n, s.emd_n, s.mem_n) == (300, 300, 300)
    assert EvaluationSettings().resolved(20_000).emd_n == 10_000


def test_model_and_data_sizes_must_agree(world):
    from genprior.evaluation.report import check_model_fits

    g, _, _ = world
    with pytest.raises(ValueError, match=r"makes images of shape \[1, 8, 8\] but the data are \[1, 16, 16\]"):
        check_model_fits(g, torch.zeros(2, 1, 16, 16))
