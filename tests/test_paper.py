"""`genprior paper`: every experiment at toy size, the cache, and a rerun after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from genprior.cli import main


def run(args, capsys):
    try:
        main(args)
    except SystemExit as exc:
        assert not exc.code
    return capsys.readouterr().out


def test_list_names_every_experiment(capsys):
    out = run(["paper", "--list"], capsys)
    for name in ("generators", "fig7", "fig8", "fig9", "fig10", "fig11", "fig12", "measurements", "noise",
                 "discrepancy", "encoder"):
        assert name in out
    from genprior.experiments.paper import EXPERIMENTS
    from genprior.experiments.paper.estimates import estimate

    total = sum(estimate(e).minutes for e in EXPERIMENTS.values())
    assert f"all        every experiment: about {total:,.0f} min" in out
    measured = [e.name for e in EXPERIMENTS.values() if estimate(e).measured]
    assert f"({len(measured)} of {len(EXPERIMENTS)} measured by benchmarks/bench_paper_profile.py" in out
    for name in measured:  # the profile's experiments say so
        assert any(line.startswith(name) and "measured by benchmarks/bench_paper_profile.py" in line for line in out.splitlines())


def test_quick_run_of_every_experiment_then_everything_is_skipped(tmp_path, fake_mnist, capsys):
    out = tmp_path / "paper"
    printed = run(["paper", "all", "--quick", "--out", str(out), "--mnist", str(fake_mnist)], capsys)
    assert "wrote" in printed
    assert "fig9: vae-hard: hard: tuning on 2 images" in printed and "fig9: vae-hard: done in" in printed
    assert "hard: testing 3 images at lam=" in printed  # a long cell says which stage it is in
    report = (out / "REPORT.md").read_text()
    figures_of = {"generators": ["mnist/a1_nrmse.png", "shapes/b1_interpolation.png"],
                  "fig7": ["discrepancy.png"], "fig8": ["starts.png"], "fig9": ["examples.png"],
                  "fig10": ["examples.png"], "fig11": ["overlay.png"],
                  "fig12": ["noise_levels.png", "psnr_vs_sigma.png", "prior_samples.png", "prior/a1_examples.png"],
                  "measurements": ["psnr_vs_m.png"], "noise": ["psnr_vs_sigma.png"], "discrepancy": [],
                  "encoder": [], "priors": ["examples-mnist.png", "examples-shapes.png"]}
    for name, figures in figures_of.items():
        result = json.loads((out / name / "result.json").read_text())
        assert {"key", "markdown", "seconds"} <= set(result)
        for cell in result["cells"].values() if name in ("fig9", "fig10", "fig11") else []:
            assert {"chosen", "psnr", "converged", "n_images", "iterations", "seconds_per_image"} <= set(cell)
            assert 0 <= cell["converged"] <= cell["n_images"]
        for figure in figures:
            assert (out / name / figure).read_bytes()[:4] == b"\x89PNG"
            assert f"{name}/{figure}" in report
    order = ["Figures 1-6", "Figure 7", "Figure 8", "Figure 9", "Figure 10", "Figure 11", "Figure 12",
             "against the number of measurements", "against the noise level", "lam by the discrepancy principle",
             "AE and VAE started from the encoder", "denoiser and diffusion priors beside the paper's generators"]
    glance = report.index("## The paper's claims at a glance")
    sections = report[report.index("\n## ", glance + 1):]  # after the claims table, which names the figures too
    assert glance < report.index("## Figures 1-6")
    assert [sections.index(title) for title in order] == sorted(sections.index(title) for title in order)
    for name in ("generators", "fig7", "fig8", "fig9", "fig10", "fig11", "fig12"):
        result = json.loads((out / name / "result.json").read_text())
        claims = result["claims"]
        assert claims and all({"figure", "paper", "ours", "agrees", "cause"} <= set(c) for c in claims), name
        assert all(c["paper"] in report and c["agrees"] in (True, False, None) for c in claims)
        assert result["code"] and result["code_changes"] == []  # the fingerprint of the code that computed it
    assert "| not tested |" in report and "PSNR tuning (dB)" in report and "Figure 12's noise levels" in report
    assert set(json.loads((out / "fig7" / "result.json").read_text())["chosen"]) >= {"hard", "tikhonov"}
    assert len(json.loads((out / "fig8" / "result.json").read_text())["parts"]["gan"]["psnr"]) == 3  # three starts
    encoder = json.loads((out / "encoder" / "result.json").read_text())["cells"]
    assert set(encoder) == {"mnist", "shapes"} and set(encoder["shapes"]) == {
        f"{k}-{m}" for k in ("ae", "vae") for m in ("hard", "relaxed", "sparse")}
    assert "| AE | hard |" in report and "random start" in report
    priors = json.loads((out / "priors" / "result.json").read_text())
    assert set(priors["cells"]["mnist"]) == {"vae-hard-flow", "vae-relaxed-flow", "pnp", "red", "diffpir", "ddrm", "dps"}
    assert set(priors["cells"]["shapes"]) == {"vae-hard-flow", "vae-relaxed-flow", "pnp", "red", "diffpir"}
    pnp = priors["cells"]["mnist"]["pnp"]
    assert pnp["ended"] == {"finished": 3} and pnp["nfe"]["mean"] == pnp["params"]["steps"]
    assert priors["cells"]["mnist"]["diffpir"]["nfe"]["mean"] > priors["cells"]["mnist"]["diffpir"]["params"]["steps"]
    assert "| denoiser | pnp |" in report and "**Verdict (mnist).**" in report
    fig12 = json.loads((out / "fig12" / "result.json").read_text())
    assert fig12["noises"] == [0.2, 0.1, 0.05, 0.025, 0.0125] and len(fig12["cells"]) == 5 * 6
    for key, cell in fig12["cells"].items():  # lam per image for every column, mu too for relaxed and sparse
        assert len(cell["lam"]) == len(cell["psnr"]) == 3 and cell["cap"] == 20
        assert ("mu" in cell) == key.startswith(("relaxed", "sparse")) and 0 <= cell["converged"] <= 3
        assert cell["solves"] >= 3 * (9 if "mu" in cell else 3)  # the whole starting grid, on every image
    assert {"hard-encoder-sigma0.0125", "relaxed-encoder-sigma0.2"} <= set(fig12["cells"])
    assert fig12["prior"]["preset"] == "compact" and fig12["prior"]["a1"]["n"] == 3  # quick: the compact preset
    assert "**The prior.**" in report and "**Stopping.**" in report and "relaxed (encoder)" in report
    shapes = json.loads((out / "discrepancy" / "result.json").read_text())["cells"]["shapes"]
    assert {"discrepancy", "psnr"} <= set(shapes["vae-hard"])
    fig10 = json.loads((out / "fig10" / "result.json").read_text())["cells"]
    assert shapes["vae-relaxed"]["held"] == {"mu": fig10["vae-relaxed"]["chosen"]["mu"]}  # mu from the table
    again = run(["paper", "all", "--quick", "--out", str(out), "--mnist", str(fake_mnist)], capsys)
    assert again.count("finished earlier, skipped") == len(figures_of) and "training" not in again


def test_a_killed_run_continues_where_it_stopped(tmp_path, capsys):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "genprior", "paper", "fig11", "--quick", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = out / "fig11" / "parts" / "sparse-tv.json"
    deadline = time.time() + 240
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert first.exists(), "the first part never finished"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = first.read_bytes()
    printed = run(["paper", "fig11", "--quick", "--out", str(out)], capsys)
    assert "fig11: sparse-tv" not in printed  # finished work is not redone
    assert first.read_bytes() == kept
    resumed = json.loads((out / "fig11" / "result.json").read_text())
    # the same numbers as an uninterrupted run (same cached model, fresh experiment directory)
    fresh = tmp_path / "fresh"
    (fresh / "models").mkdir(parents=True)
    for model in (out / "models").iterdir():
        os.symlink(model, fresh / "models" / model.name)
    run(["paper", "fig11", "--quick", "--out", str(fresh)], capsys)
    uninterrupted = json.loads((fresh / "fig11" / "result.json").read_text())
    for method in ("sparse-tv", "tv"):
        assert resumed["cells"][method]["per_image_psnr"] == uninterrupted["cells"][method]["per_image_psnr"]


def test_mnist_comes_from_the_wheel_when_no_file_is_given(tmp_path, monkeypatch):
    import genprior.data.mnist as mnist
    from genprior.experiments.paper.assets import Assets

    rng = np.random.default_rng(1)
    fake = mnist.MnistData(train=rng.random((50, 1, 28, 28), dtype=np.float32), train_labels=np.arange(50) % 10,
                           test=rng.random((30, 1, 28, 28), dtype=np.float32), test_labels=np.arange(30) % 10,
                           source="test")
    monkeypatch.setattr(mnist, "mnist_dataset", lambda *args, **kwargs: fake)
    data = Assets(tmp_path, quick=True, log=lambda _: None).data("mnist")
    assert data["train"].shape == (50, 1, 28, 28) and data["test"].shape == (20, 1, 28, 28)
    assert np.allclose(data["test"].numpy(), fake.test[:20])


def test_a_denoiser_is_trained_once_resumed_when_unfinished_and_loaded_when_done(tmp_path, monkeypatch):
    import dataclasses

    import torch

    import genprior.data.mnist as mnist
    from genprior.experiments.paper.assets import Assets
    from genprior.models.checkpoint import read_config
    from genprior.models.denoiser import Denoiser
    from genprior.training.loop import train

    rng = np.random.default_rng(2)
    fake = mnist.MnistData(train=rng.random((40, 1, 28, 28), dtype=np.float32), train_labels=np.arange(40) % 10,
                           test=rng.random((20, 1, 28, 28), dtype=np.float32), test_labels=np.arange(20) % 10,
                           source="test")
    monkeypatch.setattr(mnist, "mnist_dataset", lambda *args, **kwargs: fake)
    messages = []
    assets = Assets(tmp_path, quick=True, preset="paper", log=messages.append)  # the denoiser's preset stays compact
    out = assets.denoiser_dir("mnist", steps=3)
    assert out.parent == tmp_path / "models" and out.name.startswith("mnist-denoiser-compact-")
    assert out.name.endswith("-quick") and out != assets.denoiser_dir("mnist", steps=4)
    assert assets.denoiser_dir("mnist", steps=500) == assets.denoiser_dir("mnist")  # quick mode caps at 100 steps
    assert assets.denoiser_dir("shapes") != assets.denoiser_dir("ellipses")  # Shapes' recipe, the knee's

    model, config = assets._recipe("mnist", "denoiser", None, 3, build=True)  # a run killed in its second step
    objective = model.objective

    def killed_in_step_two(phase, batch, size):
        if killed_in_step_two.calls == 1:
            raise RuntimeError("killed")
        killed_in_step_two.calls += 1
        return objective(phase, batch, size)

    killed_in_step_two.calls = 0
    model.objective = killed_in_step_two
    with pytest.raises(RuntimeError, match="killed"):
        train(model, assets.data("mnist")["train"], out, dataclasses.replace(config, checkpoint_every=1),
              progress=False)
    assert not read_config(out)["training"]["finished"] and read_config(out)["training"]["steps_done"] == 1
    D = assets.denoiser("mnist", steps=3)
    assert isinstance(D, Denoiser) and messages[-1].startswith("resuming mnist denoiser (3 steps)")
    saved = read_config(out)
    assert saved["training"]["finished"] and saved["training"]["steps_done"] == 3 and saved["training"]["resumed_at"] == [1]
    assert saved["model"]["sigma_data"] == 0.336 and saved["model"]["preset"] == "compact"  # the MNIST recipe
    count = len(messages)
    again = assets.denoiser("mnist", steps=3)  # finished: loaded, not trained
    assert len(messages) == count and all(torch.equal(a, b) for a, b in zip(again.state_dict().values(),
                                                                            D.state_dict().values()))


def test_parts_of_other_settings_are_moved_aside_and_computed_again(tmp_path):
    from genprior.experiments.paper.assets import Assets
    from genprior.experiments.paper.protocol import Protocol
    from genprior.experiments.paper.runner import Context

    assets = Assets(tmp_path, quick=True, log=lambda _: None)
    first = Context(assets, Protocol.quick(), tmp_path / "fig", settings="old")
    assert first.part("cell", lambda: {"value": 1}) == {"value": 1}
    assert first.part("cell", lambda: {"value": 99}) == {"value": 1}  # cached under the same settings
    changed = Context(assets, Protocol.quick(), tmp_path / "fig", settings="new")
    assert changed.part("cell", lambda: {"value": 2}) == {"value": 2}
    assert json.loads((tmp_path / "fig" / "parts.stale-old" / "cell.json").read_text()) == {"value": 1}
    assert (tmp_path / "fig" / "parts" / "SETTINGS").read_text().strip() == "new"


def test_an_experiment_is_redone_only_when_its_own_generators_recipe_changes(monkeypatch):
    import genprior.models.recipes as recipes
    from genprior.experiments.paper import EXPERIMENTS
    from genprior.experiments.paper.assets import Assets
    from genprior.experiments.paper.protocol import Protocol
    from genprior.experiments.paper.runner import settings_key

    assets, protocol = Assets(".", log=lambda _: None), Protocol()
    before = {name: settings_key(assets, protocol, exp) for name, exp in EXPERIMENTS.items()}
    monkeypatch.setitem(recipes.COMPACT_GAN_STEPS, "mnist", recipes.COMPACT_GAN_STEPS["mnist"] + 1)
    after = {name: settings_key(assets, protocol, exp) for name, exp in EXPERIMENTS.items()}
    changed = {name for name in EXPERIMENTS if before[name] != after[name]}
    assert changed == {"generators", "fig7", "fig8", "fig9", "discrepancy"}


def test_figure_12_follows_the_paper_knee_recipe_whatever_the_runs_preset(monkeypatch):
    import dataclasses

    import genprior.models.vae as vae
    from genprior.experiments.paper import EXPERIMENTS
    from genprior.experiments.paper.assets import Assets
    from genprior.experiments.paper.protocol import Protocol
    from genprior.experiments.paper.runner import settings_key

    protocol = Protocol()
    keys = lambda assets: {name: settings_key(assets, protocol, exp) for name, exp in EXPERIMENTS.items()  # noqa: E731
                           if assets.preset == "compact" or name != "priors"}  # the denoisers have no paper preset
    runs = [Assets(".", preset=preset, log=lambda _: None) for preset in ("compact", "paper")]
    before = [keys(assets) for assets in runs]
    original = vae.autoencoder_recipe
    for changed_preset, expected in (("compact", set()), ("paper", {"fig12"})):
        def changed(dataset, preset, kl_weight=None, changed_preset=changed_preset):
            r = original(dataset, preset, kl_weight)
            return dataclasses.replace(r, lr=r.lr * 2) if (dataset, preset) == ("knee", changed_preset) else r

        monkeypatch.setattr(vae, "autoencoder_recipe", changed)
        for assets, old in zip(runs, before):
            new = keys(assets)
            assert {name for name in new if new[name] != old[name]} == expected, (changed_preset, assets.preset)


def test_figure_12s_starting_grids_follow_the_previous_noise_levels_choices():
    from genprior.experiments.paper.noise_sweep import MU_START, NOISES, START, cell_key, centre

    assert NOISES == (0.2, 0.1, 0.05, 0.025, 0.0125)  # the authors' 0.2 * 2^-k
    assert centre("relaxed", 0, {}) == {"lam": START["relaxed"], "mu": MU_START["relaxed"]}
    assert centre("hard-encoder", 0, {}) == {"lam": START["hard"]}  # no mu for hard
    cells = {cell_key("relaxed", 0.2): {"lam": [1.0, 2.0, 4.0], "mu": [0.1, 0.001, 0.01]},
             cell_key("tikhonov", 0.2): {"lam": [0.5, 0.25, 1.0]}}
    assert centre("relaxed", 1, cells) == {"lam": 0.5, "mu": 0.01}  # lam times (0.1 / 0.2)^2, mu as it was
    assert centre("tikhonov", 1, cells) == {"lam": 0.125}


def test_search_extending_walks_past_a_grid_edge_to_the_best_value(rng):
    from tests.conftest import tomography64

    from genprior.choice.grids import paper_grid
    from genprior.choice.tuning import grid_search
    from genprior.experiments.paper.protocol import on_edge, search_extending

    physics, _, x, y = tomography64(rng, sigma=0.2)
    options = {"max_iter": 3000, "tol": 1e-12}
    full = paper_grid(64.0, 0.5, 1e-4)
    best = grid_search(physics, y, x, "tikhonov", {"lam": full}, **options)["best"]["lam"]
    assert min(full) < best < max(full) / 32  # the answer lies inside the full grid, far below its top
    high = [best * 32, best * 16]  # a grid whose best point sits on its lower edge
    out = search_extending(physics, y, x, "tikhonov", {"lam": high}, None, 8, **options)
    assert out["best"]["lam"] == pytest.approx(best)
    assert out["extended"]["lam"][:4] == pytest.approx([best * 8, best * 4, best * 2, best])
    assert not on_edge(out["grid"], out["best"])  # stopped one step past the best value
    assert search_extending(physics, y, x, "tikhonov", {"lam": high}, None, 2, **options)["best"]["lam"] \
        == pytest.approx(best * 4)  # at most 2 steps


def test_lam_search_grows_its_grid_until_both_choices_are_inside(rng):
    from tests.conftest import tomography64

    from genprior.choice.grids import paper_grid
    from genprior.choice.tuning import grid_search
    from genprior.experiments.paper.discrepancy import lam_search

    physics, _, x, y = tomography64(rng, sigma=0.4)
    options = {"max_iter": 3000, "tol": 1e-12}
    full = grid_search(physics, y, x, "tikhonov", {"lam": paper_grid(64.0, 0.5, 1e-4)}, criterion="discrepancy",
                       sigma=0.4, **options)
    by_residual, by_psnr = full["best"]["lam"], full["psnr_choice"]["best"]["lam"]
    assert by_residual == 2 * by_psnr  # the two criteria choose different values
    low = [by_psnr / 8, by_psnr / 16]  # both choices lie above this grid
    out = lam_search(physics, y, x, "tikhonov", low, None, 0.4, 8, **options)
    assert out["best"]["lam"] == pytest.approx(by_residual)
    assert out["psnr_choice"]["best"]["lam"] == pytest.approx(by_psnr)
    assert out["extended"] == pytest.approx([by_psnr / 4, by_psnr / 2, by_psnr, by_residual, 2 * by_residual])
    assert out["edge"] == {"discrepancy": False, "psnr": False}
    short = lam_search(physics, y, x, "tikhonov", low, None, 0.4, 2, **options)  # two steps: still on the top end
    assert short["edge"] == {"discrepancy": True, "psnr": True} and short["lams"][0] == pytest.approx(by_psnr / 2)
    with pytest.raises(ValueError, match="two values"):
        lam_search(physics, y, x, "tikhonov", [1.0], None, 0.4, 2, **options)


def test_competitive_claims_use_the_stated_margin():
    from genprior.experiments.paper.tables import competitive_claims

    means = {"ae-hard": 25.0, "ae-relaxed": 25.5, "vae-hard": 24.0, "gan-hard": 24.4, "gan-relaxed": 23.0, "tv": 26.4}
    kinds = ("ae", "vae", "gan")
    competitive, gan_worse = competitive_claims("Figure 10", "shapes tomography", means, kinds, ["ae-relaxed"])
    assert competitive["agrees"] and "ae-relaxed 25.50" in competitive["ours"]  # 0.9 dB below TV
    assert gan_worse["agrees"]  # 1.1 dB below the best AE/VAE
    every, _ = competitive_claims("Figure 10", "shapes tomography", means, kinds)  # default: every AE/VAE cell
    assert not every["agrees"] and "-2.40" in every["ours"] and every["paper"].startswith("AE hard, AE relaxed and VAE hard are")
    competitive, gan_worse = competitive_claims("Figure 10", "shapes tomography", {**means, "tv": 26.6,
                                                                                   "gan-hard": 24.6}, kinds,
                                                ["ae-relaxed"])
    assert not competitive["agrees"] and not gan_worse["agrees"]
    # a table without a GAN (AE, VAE and another kind) gets the claims that apply to it, not an error
    other = {"ae-hard": 26.0, "vae-hard": 24.0, "rae-hard": 27.0, "tv": 26.4}
    (only,) = competitive_claims("Figure 10", "shapes tomography", other, ("ae", "vae", "rae"), ["ae-hard"])
    assert only["paper"].startswith("AE hard is competitive with TV") and only["agrees"]
    assert competitive_claims("Figure 10", "shapes tomography", {"rae-hard": 26.0, "tv": 26.4}, ("rae",)) == []


def test_the_claims_table_counts_each_verdict_and_says_what_is_still_to_run():
    from genprior.experiments.paper.claims import claim, claims_table, not_tested

    results = [{"claims": [claim("Figure 9", "a", "x", True, cause="ignored: it agrees"),
                           claim("Figure 9", "b", "y", False, cause="the cap (check: a larger cap)"),
                           not_tested("Figure 5", "c", "no measure of it")]}]
    assert "3 claims so far: 1 agree, 1 differ, 1 not tested (fig12, noise still to run)" in \
        claims_table(results, ["fig12", "noise"])
    final = claims_table(results)
    assert "3 claims of the paper's experiments sections (4.3 and 5): 1 agree, 1 differ, 1 not tested." in final
    assert "| Figure 9 | a | x | agrees |  |" in final  # a cause only where the claim differs
    assert "| Figure 9 | b | y | **differs** | the cap (check: a larger cap) |" in final
    assert "| Figure 5 | c | no measure of it | not tested |  |" in final
    norms = claims_table([{"claims": [claim("Figure 5", "far", "at |z| = 8 sqrt(d)", True)]}])
    assert "at \\|z\\| = 8 sqrt(d) |" in norms  # a norm does not split the table's cells


def test_run_cell_counts_each_unconverged_grid_point_once(rng):
    from tests.conftest import tomography64

    from genprior.experiments.paper.protocol import Protocol, run_cell

    physics, _, x, _ = tomography64(rng, sigma=0.1)
    protocol = Protocol(n_tune=3, n_test=3, max_iter=1, coarse_values=2, edge_extensions=0)  # no fine stage
    record, _ = run_cell(physics, x, x, [0, 1, 2], "tikhonov", None, 0.1, protocol)
    assert record["tuning"]["fine"] == record["tuning"]["coarse"]
    assert record["tuning"]["unconverged_points"] == 2  # both points hit the 1-iteration cap, counted once each


def test_an_experiment_that_reads_another_needs_it_and_follows_its_changes(tmp_path):
    from genprior.experiments.paper.assets import Assets
    from genprior.experiments.paper.protocol import Protocol
    from genprior.experiments.paper.runner import Experiment, run_experiments

    computed = []

    def table(ctx):
        return {"markdown": "## table", "value": len(ctx.settings)}

    def reader(ctx):
        value = ctx.part("own", lambda: computed.append("own") or {"own": 1})  # its own work, cached
        return {"markdown": f"## reader of {ctx.reads['table']['key']}", **value}

    assets = Assets(tmp_path, quick=True, log=lambda _: None)
    first = Experiment("table", "a table", (1, 1), (), table)
    second = Experiment("reader", "reads the table", (1, 1), ("ae-mnist",), reader, reads=("table",))
    with pytest.raises(ValueError, match=r"reader reads the results of table.*genprior paper table"):
        run_experiments([second], assets, Protocol.quick(), "# header", order=[first, second])
    done = run_experiments([first, second], assets, Protocol.quick(), "# header", order=[first, second])
    assert done["reader"]["reads"] == {"table": done["table"]["key"]} and computed == ["own"]
    # the table is redone under other settings (its generators' recipes changed): the reader's report is
    # made again from its cached part, and REPORT.md does not show the reader of the old table meanwhile
    changed = Experiment("table", "a table", (1, 1), ("vae-mnist",), table)
    run_experiments([changed], assets, Protocol.quick(), "# header", order=[changed, second])
    assert f"reader of {done['table']['key']}" not in (tmp_path / "REPORT.md").read_text()
    again = run_experiments([changed, second], assets, Protocol.quick(), "# header", order=[changed, second])
    assert again["reader"]["reads"]["table"] == again["table"]["key"] != done["table"]["key"]
    assert computed == ["own"] and f"reader of {again['table']['key']}" in (tmp_path / "REPORT.md").read_text()


def test_part_pixels_are_short_decimals():
    import torch

    from genprior.experiments.paper.runner import pixels

    values = pixels(torch.tensor([[0.0064, 0.1234567], [-0.00004, 1.0]], dtype=torch.float32))
    assert json.dumps(values) == "[[0.0064, 0.1235], [-0.0, 1.0]]"  # not float32's 0.006399999838322401
