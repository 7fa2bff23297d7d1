"""`genprior demo --quick`: the CI smoke test of the main job."""

from __future__ import annotations

import json

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
    assert (out / "model" / "model.safetensors").exists()

    weights = (out / "model" / "model.safetensors").read_bytes()
    main_args = ["demo", "--quick", "--out", str(out)]
    try:
        main(main_args)
    except SystemExit as exc:
        assert not exc.code
    assert "reusing the trained model" in capsys.readouterr().out
    assert (out / "model" / "model.safetensors").read_bytes() == weights
