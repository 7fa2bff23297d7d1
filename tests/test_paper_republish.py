"""A recomputed paper experiment whose numbers move by more than 0.1 dB says so in REPORT.md, and why."""

from __future__ import annotations

import importlib
import uuid

import pytest

from genprior.experiments.paper.republish import causes, moved, psnr_means, republication, republication_note

FAKE = '''"""A tiny experiment: one cell whose PSNR is the setup constant PSNR plus the code's OFFSET."""

PSNR = 20.0


def run(ctx):
    offset = 0.0  # the computation
    cell = ctx.part("tv", lambda: {"psnr": {"mean": PSNR + offset}})
    return {"markdown": "## fake", "cells": {"tv": cell}, "claims": []}
'''


@pytest.fixture
def fake(tmp_path, monkeypatch):
    from genprior.experiments.paper.runner import Experiment

    package = f"fake_republish_{uuid.uuid4().hex[:8]}"
    (tmp_path / "src" / package).mkdir(parents=True)
    (tmp_path / "src" / package / "__init__.py").write_text("")
    (tmp_path / "src" / package / "experiment.py").write_text(FAKE)
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    module = importlib.import_module(f"{package}.experiment")
    return module, Experiment("fake", "a fake experiment", (1, 1), (), module.run)


def _run(tmp_path, experiment):
    from genprior.experiments.paper.assets import Assets
    from genprior.experiments.paper.protocol import Protocol
    from genprior.experiments.paper.runner import run_experiments

    assets = Assets(tmp_path / "run", quick=True, log=lambda m: None)
    done = run_experiments([experiment], assets, Protocol.quick(), "# header", order=[experiment])
    return done["fake"], (tmp_path / "run" / "REPORT.md").read_text()


def test_a_setup_change_that_moves_a_number_is_stated_with_its_cause(tmp_path, fake, monkeypatch):
    module, experiment = fake
    first, report = _run(tmp_path, experiment)
    assert first["republished"] == [] and "Republished" not in report
    assert first["settings"]["setup"] == {"PSNR": 20.0}
    monkeypatch.setattr(module, "PSNR", 20.05)  # moves by 0.05 dB: recomputed, not reported
    second, report = _run(tmp_path, experiment)
    assert second["key"] != first["key"] and second["republished"] == [] and "Republished" not in report
    monkeypatch.setattr(module, "PSNR", 21.0)
    third, report = _run(tmp_path, experiment)
    [entry] = third["republished"]
    assert entry["moved"] == ["tv 20.05 -> 21.00 dB"] and entry["previous_key"] == second["key"]
    assert entry["why"] == "its settings changed (setup.PSNR)"
    assert "numbers moved by more than 0.1 dB against the result it replaces (tv 20.05 -> 21.00 dB), because its " \
           "settings changed (setup.PSNR)" in report
    monkeypatch.setattr(module, "PSNR", 23.0)
    fourth, report = _run(tmp_path, experiment)  # the record keeps every republication
    assert [r["moved"] for r in fourth["republished"]] == [["tv 20.05 -> 21.00 dB"], ["tv 21.00 -> 23.00 dB"]]
    assert report.count("_Republished ") == 2


def test_psnr_means_read_a_mean_or_per_image_values_and_skip_the_rest():
    result = {"cells": {"a": {"psnr": {"mean": 20.0}}, "b": {"psnr": [19.0, 21.0, 23.0]}, "c": {"nrmse": 0.2},
                        "d": {"psnr": []}, "e": [1, 2]}}
    assert psnr_means(result) == {"a": 20.0, "b": 21.0}
    assert psnr_means({}) == {}


def test_moved_compares_cells_of_both_results_only():
    old = {"cells": {"a": {"psnr": {"mean": 20.0}}, "b": {"psnr": {"mean": 25.0}}, "gone": {"psnr": [1.0]}}}
    new = {"cells": {"a": {"psnr": {"mean": 19.85}}, "b": {"psnr": {"mean": 25.08}}, "added": {"psnr": [9.0]}}}
    assert moved(old, new) == ["a 20.00 -> 19.85 dB"]  # b moved by 0.08: not more than 0.1


def test_causes_name_changed_settings_and_modules():
    old = {"key": "k1", "settings": {"protocol": {"n_test": 100, "n_tune": 20}, "quick": False},
           "code": {"genprior.methods.hard": "h1", "genprior.metrics": "m1"}}
    new = {"key": "k2", "settings": {"protocol": {"n_test": 50, "n_tune": 20}, "quick": False},
           "code": {"genprior.methods.hard": "h2", "genprior.metrics": "m1", "genprior.new": "n1"}}
    assert causes(old, new) == ("its settings changed (protocol.n_test); its code changed (genprior.methods.hard, "
                                "genprior.new)")
    assert causes({"key": "k1"}, {"key": "k2"}) == ("its settings changed (the earlier result predates the record "
                                                    "of its settings)")
    assert "not reproducible" in causes({"key": "k"}, {"key": "k"})


def test_no_earlier_result_no_record_and_the_note_lists_each_entry():
    assert republication(None, {"cells": {}}) == []
    note = republication_note({"republished": [{"date": "2026-12-07", "moved": ["a 1.00 -> 2.00 dB"], "why": "w"}]})
    assert note == ("\n\n_Republished 2026-12-07: numbers moved by more than 0.1 dB against the result it replaces "
                    "(a 1.00 -> 2.00 dB), because w._")
