"""How long each paper experiment takes: measured where a profile was recorded, else the published run's time.

``measured_minutes.json`` (beside this module) is written by
``benchmarks/bench_paper_profile.py --record``: a stated sample of each experiment's cells
computed again in one process on the 2-core machine, scaled to the whole experiment (see that
script).  An experiment it does not cover (an added one, or one it could not sample)
keeps the estimate its :class:`~.runner.Experiment` carries, from the published run.
Training the models is not in these minutes; :func:`training_minutes` sums the training
times a run's models recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the runner imports this module for its progress lines
    from genprior.experiments.paper.runner import Experiment

MEASURED = Path(__file__).with_name("measured_minutes.json")


@dataclass(frozen=True)
class Estimate:
    """An experiment's full-run minutes on 2 CPU cores and where the figure comes from."""

    minutes: float
    measured: bool
    basis: str


def _measured() -> dict:
    try:
        return json.loads(MEASURED.read_text())
    except (OSError, ValueError):  # not recorded (or unreadable): the experiments' own estimates
        return {}


def estimate(experiment: "Experiment") -> Estimate:
    """The full-run minutes of ``experiment``: the profile's measurement, else its own estimate."""
    profile = _measured()
    minutes = profile.get("minutes", {}).get(experiment.name)
    if minutes is None:
        return Estimate(float(experiment.minutes[1]), False, "the published run's time, on a shared machine")
    return Estimate(float(minutes), True, f"{profile.get('how', {}).get(experiment.name, '')}; "
                                          f"{profile.get('measured', '').split(';')[0]}")


def cell_seconds(experiment: str) -> dict[str, float]:
    """The profile's estimate of each cell of ``experiment``, seconds by part key
    (empty where the profile has none)."""
    return dict(_measured().get("cell_seconds", {}).get(experiment, {}))


def time_left(experiment: str, done: set[str]) -> str:
    """``"cell k of N, about M min left by the profile's estimate"`` for a full run whose finished
    parts are ``done``; empty where the profile has no estimate of the experiment's cells."""
    cells = cell_seconds(experiment)
    if not cells:
        return ""
    finished = done & cells.keys()
    left = sum(v for k, v in cells.items() if k not in finished) / 60
    return f"cell {len(finished) + 1} of {len(cells)}, about {left:,.0f} min left by the profile's estimate"


def training_minutes(models: Path) -> tuple[float, int]:
    """``(minutes, models)``: the training time recorded by each finished model under ``models``
    (its ``config.json``; the published run's models trained on a shared machine)."""
    seconds, count = 0.0, 0
    for config in sorted(models.glob("*/config.json")):
        try:
            training = json.loads(config.read_text()).get("training", {})
        except (OSError, ValueError):
            continue
        if training.get("finished") and isinstance(training.get("seconds"), (int, float)):
            seconds, count = seconds + float(training["seconds"]), count + 1
    return seconds / 60, count


__all__ = ["MEASURED", "Estimate", "cell_seconds", "estimate", "time_left", "training_minutes"]
