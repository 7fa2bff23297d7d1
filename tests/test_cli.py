"""The command line end to end: data -> train -> reconstruct, and its error messages."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cli_runner import run_cli, solve_in_process
from genprior.data.io import save_dataset
from genprior.metrics import nrmse, psnr, ssim


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A small Shapes file and a VAE trained for a few steps through the CLI."""
    d = tmp_path_factory.mktemp("cli")
    assert run_cli(["data", "shapes", "--n", "200", "--n-test", "12", "--seed", "3", "--out", str(d / "shapes.npz")]) == 0
    assert run_cli(["train", "vae", "--data", str(d / "shapes.npz"), "--latent-dim", "4", "--steps", "20",
                    "--batch-size", "16", "--out", str(d / "model"), "--quiet"]) == 0
    return d


@pytest.mark.parametrize("method, extra, params", [
    ("hard", ["--lam", "0.01", "--max-iter", "5"], {"lam": 0.01, "max_iter": 5}),
    ("relaxed", ["--lam", "0.4", "--mu", "0.1", "--max-iter", "5", "--init", "encoder"],
     {"lam": 0.4, "mu": 0.1, "max_iter": 5, "init": "encoder"}),
    ("tikhonov", ["--lam", "0.2", "--max-iter", "10"], {"lam": 0.2, "max_iter": 10}),
    ("tv", ["--lam", "0.05", "--max-iter", "20"], {"lam": 0.05, "max_iter": 20}),
])
def test_reconstruct_writes_results(workspace, method, extra, params, capsys):
    out = workspace / f"{method}.json"
    code = run_cli(["reconstruct", "--problem", "tomography", "--method", method, "--model", str(workspace / "model"),
                    "--data", str(workspace / "shapes.npz"), "--indices", "0:3", "--noise", "0.1", "--seed", "1",
                    "--out", str(out), *extra])
    assert code == 0
    res = json.loads(out.read_text())
    for key in ("problem", "method", "params", "noise", "n_images", "psnr", "nrmse", "ssim", "seconds", "iterations",
                "per_image"):
        assert key in res
    assert res["n_images"] == 3 and res["psnr_data_range"] == 1.0 and res["device"] == "cpu"
    assert {"mean", "std"} <= set(res["psnr"]) and "mean" in res["iterations"]
    assert [p["index"] for p in res["per_image"]] == [0, 1, 2]
    assert "PSNR" in capsys.readouterr().out
    # the values: each image's record is what the Python API computes from the same inputs and seeds
    result, truth = solve_in_process(workspace / "shapes.npz", workspace / "model", [0, 1, 2], method, noise=0.1,
                                     seed=1, **params)
    per = res["per_image"]
    assert [p["psnr"] for p in per] == pytest.approx(psnr(result.x, truth).tolist(), abs=1e-4)
    assert [p["nrmse"] for p in per] == pytest.approx(nrmse(result.x, truth).tolist(), abs=1e-6)
    assert [p["ssim"] for p in per] == pytest.approx(ssim(result.x, truth).tolist(), abs=1e-6)
    assert [p["iterations"] for p in per] == result.iterations.tolist()
    assert [p["converged"] for p in per] == result.converged.tolist()
    assert [p["final_objective"] for p in per] == pytest.approx(result.final_objective.tolist(), rel=1e-9)
    # the summary is that of the per-image values
    for key in ("psnr", "nrmse", "ssim"):
        values = np.array([p[key] for p in per])
        assert res[key]["mean"] == pytest.approx(values.mean(), rel=1e-12)
        assert res[key]["std"] == pytest.approx(values.std(), rel=1e-9, abs=1e-12)
        assert (res[key]["min"], res[key]["max"]) == (values.min(), values.max())
    assert res["iterations"] == {"mean": pytest.approx(np.mean(result.iterations.tolist())),
                                 "max": int(result.iterations.max())}
    assert res["converged"] == sum(p["converged"] for p in per) == result.n_converged
    assert res["params"]["lam"] == params["lam"] and res["params"]["max_iter"] == params["max_iter"]
    assert res["noise"] == 0.1 and res["seed"] == 1


def test_reconstruct_writes_figure(workspace):
    fig = workspace / "grid.png"
    assert run_cli(["reconstruct", "--method", "tv", "--data", str(workspace / "shapes.npz"), "--indices", "0:2",
                    "--max-iter", "5", "--out", str(workspace / "tv-fig.json"), "--figure", str(fig)]) == 0
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _error(args, capsys) -> str:
    assert run_cli(args) == 2
    return capsys.readouterr().err


def test_unknown_method_and_problem(workspace, capsys):
    base = ["reconstruct", "--data", str(workspace / "shapes.npz"), "--out", str(workspace / "x.json")]
    err = _error([*base, "--method", "magic"], capsys)
    assert "'--method'" in err and "'magic' is not one of 'hard', 'relaxed'" in err  # the choices are listed
    err = _error([*base, "--method", "tv", "--problem", "mri"], capsys)
    assert "'--problem'" in err and "'mri' is not one of 'tomography'" in err


def test_negative_parameters(workspace, capsys):
    base = ["reconstruct", "--data", str(workspace / "shapes.npz"), "--out", str(workspace / "x.json"),
            "--indices", "0:1"]
    assert "lam must be finite and >= 0" in _error([*base, "--method", "tv", "--lam", "-1"], capsys)
    assert "--noise must be a finite number >= 0" in _error([*base, "--method", "tv", "--noise", "-0.1"], capsys)


def test_generative_method_needs_model(workspace, capsys):
    err = _error(["reconstruct", "--method", "hard", "--data", str(workspace / "shapes.npz"),
                  "--out", str(workspace / "x.json"), "--indices", "0:1"], capsys)
    assert "needs a generator: pass --model" in err


def test_missing_and_corrupt_model(workspace, tmp_path, capsys):
    base = ["reconstruct", "--method", "hard", "--data", str(workspace / "shapes.npz"), "--out", str(tmp_path / "x.json")]
    assert "model checkpoint not found" in _error([*base, "--model", str(tmp_path / "nowhere")], capsys)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{}")
    (bad / "model.safetensors").write_bytes(b"junk")
    assert "not a genprior checkpoint" in _error([*base, "--model", str(bad)], capsys)


def test_nan_data_and_missing_data(tmp_path, capsys):
    images = np.zeros((3, 1, 56, 56), dtype=np.float32)
    images[1, 0, 5, 5] = np.nan
    np.savez(tmp_path / "nan.npz", test=images, train=images[:0])
    base = ["reconstruct", "--method", "tv", "--out", str(tmp_path / "x.json")]
    assert "NaN or Inf" in _error([*base, "--data", str(tmp_path / "nan.npz")], capsys)
    assert "data file not found" in _error([*base, "--data", str(tmp_path / "none.npz")], capsys)


def test_image_size_that_does_not_match_the_model(workspace, tmp_path, capsys):
    save_dataset(tmp_path / "small.npz", test=np.zeros((2, 1, 28, 28), dtype=np.float32))
    err = _error(["reconstruct", "--method", "hard", "--model", str(workspace / "model"), "--data",
                  str(tmp_path / "small.npz"), "--out", str(tmp_path / "x.json")], capsys)
    assert "produces images of shape [1, 56, 56] but the operator expects [1, 28, 28]" in err


def test_bad_index_selection(workspace, capsys):
    err = _error(["reconstruct", "--method", "tv", "--data", str(workspace / "shapes.npz"), "--indices", "5:500",
                  "--out", str(workspace / "x.json")], capsys)
    assert "outside the 12 available images" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
@pytest.mark.parametrize("command", [
    ["reconstruct", "--method", "tv", "--out", "x.json"],
    ["tune", "--method", "tv", "--out", "x.json", "--tune-indices", "0:2", "--test-indices", "2:4"],
    ["evaluate", "MODEL", "--out", "report"],
])
def test_device_cuda_without_a_gpu_is_a_clear_error(workspace, command, capsys):
    args = [str(workspace / "model") if a == "MODEL" else str(workspace / a) if a in ("x.json", "report") else a
            for a in command]
    err = _error([*args, "--data", str(workspace / "shapes.npz"), "--device", "cuda"], capsys)
    assert "--device cuda was requested but CUDA is not available" in err


def test_unknown_device(workspace, capsys):
    err = _error(["reconstruct", "--method", "tv", "--data", str(workspace / "shapes.npz"), "--out",
                  str(workspace / "x.json"), "--device", "tpu"], capsys)
    assert "unknown device 'tpu'" in err
