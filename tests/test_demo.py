"""`genprior demo --quick`: the CI smoke test of the main job; a tiny demo's rows repeated by their commands."""

from __future__ import annotations

import json

import pytest

from genprior.cli import main


def test_quick_demo_writes_report_and_reuses_its_model(tmp_path, capsys):
    out = tmp_path / "demo"
    try:
        main(["demo", "--quick", "--out", str(out)])
    except SystemExit as exc:
        assert not exc.code
    printed = capsys.readouterr().out
    assert "| method |" in printed and "tv" in printed and "relaxed" in printed
    results = json.loads((out / "results.json").read_text())
    assert set(results["methods"]) == {"tv", "tikhonov", "hard", "relaxed"}
    assert "| converged |" in printed
    for rec in results["methods"].values():
        assert rec["n_images"] == results["n_test"]
        assert rec["psnr"]["mean"] > 10.0
        assert rec["tuning"]["best"]
        assert 0 <= rec["converged"] <= rec["n_images"]
        assert sum(r["converged"] for r in rec["per_image"]) == rec["converged"]
    assert results["init"] == "encoder"
    # a margin over the trivial reconstruction x = 0 (about 15.4 dB on Shapes: the background is black)
    import torch

    from genprior.data.shapes import shapes_dataset
    from genprior.experiments.demo import DemoSettings
    from genprior.metrics import psnr

    s = DemoSettings.quick()
    truth = torch.from_numpy(shapes_dataset(s.n_train, s.n_tune + s.n_test, seed=s.seed)[1][s.n_tune:])
    trivial = float(psnr(torch.zeros_like(truth), truth).mean())
    margins = {"tv": 6.0, "hard": 4.0, "relaxed": 4.0, "tikhonov": 2.0}  # quick mode: a 400-step VAE, 60 iterations
    for method, margin in margins.items():
        assert results["methods"][method]["psnr"]["mean"] > trivial + margin, (method, trivial)
    assert (out / "figure.png").read_bytes()[:4] == b"\x89PNG"
    report = (out / "report.md").read_text()
    assert "PSNR" in report and "N(0, I)" in report and "converged" in report
    assert "## Repeating a row" in report
    assert all(rec["command"].startswith("genprior reconstruct ") and rec["command"] in report
               for rec in results["methods"].values())
    assert (out / "model" / "model.safetensors").exists()

    weights = (out / "model" / "model.safetensors").read_bytes()
    main_args = ["demo", "--quick", "--out", str(out)]
    try:
        main(main_args)
    except SystemExit as exc:
        assert not exc.code
    assert "reusing the trained model" in capsys.readouterr().out
    assert (out / "model" / "model.safetensors").read_bytes() == weights


def tiny_settings():
    """A demo of seconds: a 3-step VAE, 2 tuning and 3 test images, small grids and iteration caps."""
    from genprior.experiments.demo import DemoSettings

    return DemoSettings(
        n_train=64, train_steps=3, batch_size=16, n_tune=2, n_test=3,
        max_iter={"hard": 20, "relaxed": 20, "tikhonov": 20, "tv": 30},
        grids={"tv": {"lam": [0.1, 0.05]}, "tikhonov": {"lam": [0.2]}, "hard": {"lam": [0.003, 0.0008]},
               "relaxed": {"lam": [0.8], "mu": [0.04, 0.01]}},
    )


def test_each_row_of_the_demo_is_repeated_by_the_command_its_report_prints(tmp_path, monkeypatch, capsys):
    """The command printed for a row, run as a user would (from the demo's directory, relative paths),
    gives the row's PSNR on every test image."""
    import shlex

    from cli_runner import run_cli
    from genprior.experiments.demo import run_demo

    monkeypatch.chdir(tmp_path)
    results = run_demo("demo", settings=tiny_settings(), verbose=True)
    printed = capsys.readouterr().out
    report = (tmp_path / "demo" / "report.md").read_text()
    assert (tmp_path / "demo" / "data.npz").exists()
    for method, rec in results["methods"].items():
        command = rec["command"]
        assert command in printed and command in report
        argv = shlex.split(command)
        assert argv[:3] == ["genprior", "reconstruct", "--problem"]
        flags = set(argv)
        assert {"--method", method, "--indices", "2:5", "--noise-seed", "2", "--seed", "--lam", "--max-iter"} <= flags
        if method in ("hard", "relaxed"):
            assert {"--model", "--init", "encoder", "--solver", "--restarts"} <= flags
        if method == "relaxed":
            assert {"--mu", "--coordinates", "u", "--x-init", "generator"} <= flags
        assert run_cli(argv[1:]) == 0
        repeated = json.loads((tmp_path / argv[argv.index("--out") + 1]).read_text())
        assert repeated["psnr"]["mean"] == pytest.approx(rec["psnr"]["mean"], abs=0.01), method
        assert [r["psnr"] for r in repeated["per_image"]] == pytest.approx([r["psnr"] for r in rec["per_image"]],
                                                                           abs=0.01), method
        assert [r["iterations"] for r in repeated["per_image"]] == [r["iterations"] for r in rec["per_image"]]
        assert repeated["params"] == rec["params"] and repeated["seed"] == 2
