"""`genprior tune` end to end, `reconstruct --lam auto`, and their error messages."""

from __future__ import annotations

import json

import pytest

from cli_runner import run_cli, solve_in_process


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    d = tmp_path_factory.mktemp("tune")
    assert run_cli(["data", "shapes", "--n", "100", "--n-test", "8", "--seed", "5", "--out", str(d / "shapes.npz")]) == 0
    assert run_cli(["train", "vae", "--data", str(d / "shapes.npz"), "--latent-dim", "4", "--steps", "10",
                    "--batch-size", "16", "--out", str(d / "model"), "--quiet"]) == 0
    return d


def test_tune_psnr_writes_choice_surface_and_test_record(workspace, capsys):
    out, fig = workspace / "tv.json", workspace / "tv.png"
    assert run_cli(["tune", "--method", "tv", "--data", str(workspace / "shapes.npz"), "--tune-indices", "0:3",
                    "--test-indices", "3:6", "--noise", "0.1", "--grid", "lam=0.2:0.5:0.02", "--max-iter", "60",
                    "--out", str(out), "--figure", str(fig)]) == 0
    res = json.loads(out.read_text())
    assert res["criterion"] == "psnr" and res["grid"] == {"lam": [0.2, 0.1, 0.05, 0.025]}
    table = res["tuning"]["table"]
    assert len(table) == 4 and all({"lam", "psnr", "residual"} <= set(r) for r in table)
    assert res["chosen"]["lam"] == max(table, key=lambda r: r["psnr"])["lam"]
    assert res["test"]["n_images"] == 3 and [r["index"] for r in res["test"]["per_image"]] == [3, 4, 5]
    assert res["test"]["params"]["lam"] == res["chosen"]["lam"]
    assert fig.read_bytes()[:4] == b"\x89PNG"
    assert "test PSNR" in capsys.readouterr().out


def test_tune_discrepancy_compares_with_psnr_tuning(workspace, capsys):
    out = workspace / "relaxed.json"
    assert run_cli(["tune", "--method", "relaxed", "--model", str(workspace / "model"), "--data",
                    str(workspace / "shapes.npz"), "--tune-indices", "0:2", "--test-indices", "2:4", "--grid",
                    "lam=1,0.1,0.01", "--criterion", "discrepancy", "--max-iter", "5", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["grid"]["mu"] == [0.1]  # mu fixed at the method's default: the principle chooses lam
    assert {"discrepancy", "psnr_tuned", "difference_db"} <= set(res["comparison"])
    target = res["tuning"]["noise_norm"]
    best = min(res["tuning"]["table"], key=lambda r: abs(r["residual"] - target))
    assert res["chosen"]["lam"] == best["lam"]
    assert "PSNR-tuned" in capsys.readouterr().out


def test_reconstruct_lam_auto(workspace):
    out = workspace / "auto.json"
    assert run_cli(["reconstruct", "--method", "tikhonov", "--data", str(workspace / "shapes.npz"), "--indices", "0:3",
                    "--lam", "auto", "--lam-grid", "1:0.5:0.05", "--max-iter", "50", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["params"]["lam"] == "auto" and res["params"]["lam_choice"] == "discrepancy"
    assert all(r["lam"] in res["params"]["lam_grid"] for r in res["per_image"])
    assert all("residual" in r for r in res["per_image"])


def _error(args, capsys) -> str:
    assert run_cli(args) == 2
    return capsys.readouterr().err


def test_tune_bad_input(workspace, capsys):
    base = ["tune", "--data", str(workspace / "shapes.npz"), "--out", str(workspace / "x.json"),
            "--tune-indices", "0:2", "--test-indices", "2:4"]
    assert "overlap" in _error([*base[:-4], "--tune-indices", "0:3", "--test-indices", "2:4", "--method", "tv"],
                               capsys)
    assert "has no parameter(s) ['mu']" in _error([*base, "--method", "tv", "--grid", "mu=0.1"], capsys)
    assert "does not take --mu" in _error([*base, "--method", "tv", "--mu", "0.1"], capsys)
    assert "needs a generator" in _error([*base, "--method", "sparse"], capsys)
    assert "fix the others" in _error([*base, "--method", "relaxed", "--model", str(workspace / "model"),
                                       "--criterion", "discrepancy", "--grid", "lam=1,0.1", "--grid", "mu=1,0.1"],
                                      capsys)
    assert "'ssim' is not one of 'psnr', 'discrepancy'" in _error([*base, "--method", "tv", "--criterion", "ssim"],
                                                                  capsys)
    assert "NAME=start:factor:floor" in _error([*base, "--method", "tv", "--grid", "lam"], capsys)
    assert "latent prior 'critic' uses the GAN critic" in _error(
        [*base, "--method", "hard", "--model", str(workspace / "model"), "--latent-prior", "critic",
         "--grid", "lam=0.1"], capsys)
    assert "restarts must be >= 1" in _error(
        [*base, "--method", "hard", "--model", str(workspace / "model"), "--restarts", "0", "--grid", "lam=0.1"],
        capsys)


NEW_OPTIONS = [  # method, flags, the same as keyword arguments of gp.solve
    ("sparse", ["--lam", "0.1", "--mu", "0.1"], {"lam": 0.1, "mu": 0.1}),
    ("sparse-tv", ["--lam", "0.2"], {"lam": 0.2}),
    ("pgd", ["--latent-prior", "box"], {"latent_prior": "box"}),
    ("relaxed", ["--coordinates", "x", "--restarts", "3"], {"coordinates": "x", "restarts": 3}),
    ("hard", ["--solver", "gauss-newton"], {"solver": "gauss-newton"}),
    ("relaxed", ["--x-init", "generator"], {"x_init": "generator"}),
    ("hard", ["--latent-prior", "sphere", "--init", "encoder"], {"latent_prior": "sphere", "init": "encoder"}),
]


def test_reconstruct_new_options(workspace, capsys):
    # Each option is in the record and took effect: the run equals the Python API's with the option,
    # and differs from the Python API's run without it (the other options kept).
    base = ["reconstruct", "--model", str(workspace / "model"), "--data", str(workspace / "shapes.npz"),
            "--indices", "0:2", "--out", str(workspace / "r.json"), "--max-iter", "3", "--force"]
    for method, extra, given in NEW_OPTIONS:
        assert run_cli([*base, "--method", method, *extra]) == 0, method
        res = json.loads((workspace / "r.json").read_text())
        assert res["method"] == method and res["n_images"] == 2
        assert {k: res["params"][k] for k in given} == given, method

        def final(**params):
            result, _ = solve_in_process(workspace / "shapes.npz", workspace / "model", [0, 1], method, max_iter=3,
                                         **params)
            return result.final_objective.tolist()

        recorded = [r["final_objective"] for r in res["per_image"]]
        assert recorded == pytest.approx(final(**given), rel=1e-9), method
        for name in given:
            without = final(**{k: v for k, v in given.items() if k != name})
            assert recorded != pytest.approx(without, rel=1e-6), (method, name)
        if "restarts" in given:
            assert all(0 <= r["chosen_start"] < given["restarts"] for r in res["per_image"])
    assert "does not take --mu" in _error([*base, "--method", "hard", "--mu", "0.1"], capsys)
    assert "does not take --coordinates" in _error([*base, "--method", "sparse", "--coordinates", "u"], capsys)
    assert "--lam must be a number or 'auto'" in _error([*base, "--method", "hard", "--lam", "big"], capsys)


def test_records_name_the_starts_and_help_lists_the_registries(workspace, capsys):
    # The starts are drawn as tensors before solving (for sharding); the record names what was asked.
    from genprior.methods import METHODS
    from genprior.physics import PROBLEMS

    base = ["reconstruct", "--data", str(workspace / "shapes.npz"), "--indices", "0:2", "--out",
            str(workspace / "s.json"), "--max-iter", "3", "--force"]
    assert run_cli([*base, "--method", "tikhonov"]) == 0
    assert json.loads((workspace / "s.json").read_text())["params"]["x_init"] == "random"
    assert run_cli([*base, "--method", "sparse", "--model", str(workspace / "model"), "--init", "encoder"]) == 0
    params = json.loads((workspace / "s.json").read_text())["params"]
    assert params["init"] == "encoder" and params["u_init"] == "zero"
    capsys.readouterr()
    for verb in ("reconstruct", "tune"):
        assert run_cli([verb, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.split())
        for name in [*PROBLEMS, *METHODS]:
            assert name in text, (verb, name)
