"""`genprior paper`'s time estimates: the profile's measurements, the fallback, time left, training time."""

from __future__ import annotations

import json

import pytest

from genprior.experiments.paper import estimates
from genprior.experiments.paper.runner import Experiment


@pytest.fixture
def profile(tmp_path, monkeypatch):
    path = tmp_path / "measured_minutes.json"
    path.write_text(json.dumps({"measured": "bench, 2026-12-07; a machine", "minutes": {"fig9": 4.5},
                                "how": {"fig9": "published cells 763 s x 0.35"},
                                "cell_seconds": {"fig9": {"a": 60.0, "b": 120.0, "c": 90.0}}}))
    monkeypatch.setattr(estimates, "MEASURED", path)
    return path


def experiment(name: str) -> Experiment:
    return Experiment(name, "a figure", (1, 99), (), lambda ctx: {})


def test_a_measured_experiment_uses_the_profile_and_an_unmeasured_one_its_own_estimate(profile):
    measured = estimates.estimate(experiment("fig9"))
    assert measured.minutes == 4.5 and measured.measured and "763 s x 0.35" in measured.basis
    assert "2026-12-07" in measured.basis
    other = estimates.estimate(experiment("fig12"))
    assert other.minutes == 99 and not other.measured


def test_no_or_a_broken_profile_falls_back(profile):
    profile.write_text("{not json")
    assert estimates.estimate(experiment("fig9")).minutes == 99
    profile.unlink()
    assert estimates.estimate(experiment("fig9")).minutes == 99 and estimates.time_left("fig9", set()) == ""


def test_time_left_counts_the_cells_not_yet_done(profile):
    assert estimates.time_left("fig9", set()) == "cell 1 of 3, about 4 min left by the profile's estimate"
    assert estimates.time_left("fig9", {"b", "SETTINGS"}) == "cell 2 of 3, about 2 min left by the profile's estimate"
    assert estimates.time_left("fig12", {"a"}) == ""


def test_training_minutes_sum_the_finished_models_records(tmp_path):
    for name, training in (("m1", {"finished": True, "seconds": 600}), ("m2", {"finished": True, "seconds": 300}),
                           ("m3", {"finished": False, "seconds": 50})):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps({"training": training}))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{")
    assert estimates.training_minutes(tmp_path) == (15.0, 2)
    assert estimates.training_minutes(tmp_path / "absent") == (0.0, 0)
