"""``genprior evaluate``: the files it promises, side-by-side models, and its error messages."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli_runner import run_cli
from genprior.data.io import save_dataset
from genprior.evaluation.report import FIGURES

SMALL = ["--n", "12", "--emd-n", "30", "--mem-n", "30", "--off-n", "3", "--max-iter", "5", "--restarts", "2"]


def blobs(n: int, size: int, seed: int) -> np.ndarray:
    """Images of one bright square at a random place (a tiny stand-in data set)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 1, size, size), dtype=np.float32)
    for k in range(n):
        i, j = rng.integers(0, size - 5, 2)
        out[k, 0, i:i + 5, j:j + 5] = rng.uniform(0.4, 1.0)
    return out


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A 16x16 data set, a 32x32 one, and a VAE trained on the first for a few steps."""
    d = tmp_path_factory.mktemp("evaluate")
    save_dataset(d / "blobs.npz", train=blobs(80, 16, 0), test=blobs(40, 16, 1), meta={"dataset": "blobs"})
    save_dataset(d / "big.npz", train=blobs(10, 32, 2), test=blobs(10, 32, 3), meta={"dataset": "big"})
    save_dataset(d / "testonly.npz", test=blobs(40, 16, 4), meta={"dataset": "blobs"})
    assert run_cli(["train", "vae", "--data", str(d / "blobs.npz"), "--latent-dim", "3", "--steps", "5",
                    "--batch-size", "16", "--out", str(d / "vae-3"), "--quiet"]) == 0
    return d


def test_evaluate_writes_every_promised_file(workspace, capsys):
    out = workspace / "report"
    model = str(workspace / "vae-3")
    code = run_cli(["evaluate", model, model, "--data", str(workspace / "blobs.npz"), "--out", str(out),
                    "--off-data", str(workspace / "big.npz"), *SMALL])
    assert code == 0
    for name in ["report.md", "metrics.json", *FIGURES.values()]:
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["models"]) == ["vae-3", "vae-3-2"]  # names from the directory, made unique
    m = metrics["models"]["vae-3"]
    assert m["model"]["kind"] == "vae" and m["model"]["latent_dim"] == 3 and m["A1"]["init"] == "encoder"
    assert set(m["A2"]) == {"noise", "inverted", "shifted", "big"}
    assert m["A3"]["emd"]["n"] == 30 and m["memorisation"]["n_train"] == 80
    assert metrics["settings"]["n"] == 12 and metrics["psnr_data_range"] == 1.0
    assert set(m["timings"]) == {"A1", "A2", "A3", "B2", "far", "B1", "memorisation"}
    text = capsys.readouterr().out
    assert "A1 NRMSE median" in text and "report.md" in text


def test_evaluate_without_training_images_skips_memorisation(workspace):
    out = workspace / "report-testonly"
    assert run_cli(["evaluate", str(workspace / "vae-3"), "--data", str(workspace / "testonly.npz"), "--out", str(out),
                    "--quick", "--sliced-only", *SMALL, "--solver", "backtracking"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["solver"] == "backtracking"
    assert metrics["models"]["vae-3"]["A1"]["solver"] == "backtracking" and "Algorithm 1" in (out / "report.md").read_text()
    assert "memorisation" not in metrics["models"]["vae-3"] and not (out / "memorisation.png").exists()
    assert metrics["models"]["vae-3"]["A3"]["emd"] is None and metrics["settings"]["exact_emd"] is False


@pytest.mark.parametrize("args, message", [
    (["{ws}/nope", "--data", "{ws}/blobs.npz"], "model checkpoint not found"),
    (["{ws}/vae-3", "--data", "{ws}/missing.npz"], "data file not found"),
    (["{ws}/vae-3", "--data", "{ws}/big.npz"], "makes images of shape [1, 16, 16] but the data are [1, 32, 32]"),
    (["{ws}/vae-3", "--data", "{ws}/blobs.npz", "--n", "41"], "--n 41 is larger than the 40 test images"),
    (["{ws}/vae-3", "--data", "{ws}/blobs.npz", "--emd-n", "1000"], "--emd-n 1000 is larger than the 40 test"),
    (["{ws}/vae-3", "--data", "{ws}/blobs.npz", "--restarts", "0"], "restarts must be >= 1"),
    (["{ws}/vae-3", "--data", "{ws}/blobs.npz", "--solver", "newton"], "unknown solver 'newton'; choose one of"),
    (["{ws}/vae-3", "--data", "{ws}/blobs.npz", "--prune-after", "0"], "prune_after must be an integer >= 1"),
    (["{ws}/vae-3", "--data", "{ws}/blobs.npz", "--prune-keep", "2"], "--prune-keep needs --prune-after"),
])
def test_evaluate_errors_are_clear(workspace, capsys, args, message):
    args = [a.format(ws=workspace) for a in args]
    assert run_cli(["evaluate", *args, "--out", str(workspace / "err")]) == 2
    assert message in capsys.readouterr().err
