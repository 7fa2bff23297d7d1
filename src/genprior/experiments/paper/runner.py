"""Run the paper's experiments with a cache: finished work is never redone.

Layout of the run directory ``DIR``:

- ``DIR/data/``, ``DIR/models/``: the shared assets (:mod:`.assets`);
- ``DIR/<experiment>/parts/<key>.json``: each finished piece of an experiment (one
  table cell, one model's report), written atomically when it finishes; a rerun after
  a kill loads these and computes only what is missing.  ``parts/SETTINGS`` holds the
  settings key the parts were computed under: parts of other settings (or of unknown
  ones) are moved aside to ``parts.stale-<key>`` and computed again;
- ``DIR/<experiment>/result.json``: the finished experiment (its settings key, the
  parts, the report section, wall time); an experiment whose ``result.json`` has the
  same settings key (and, for an experiment that reads others' results, the same keys
  of those) is skipped;
- ``DIR/REPORT.md``: every finished experiment's section, in the paper's order.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from genprior.errors import InputError
from genprior.experiments.paper.assets import Assets
from genprior.experiments.paper.claims import claims_table
from genprior.experiments.paper.protocol import Protocol

PARTS_SETTINGS = "SETTINGS"  # the file in parts/ naming the settings key of the parts


def pixels(images) -> list:
    """Images (a tensor) as nested lists for a part's JSON, rounded to 4 decimals: 1e-4 of
    the data range is invisible in a figure and the JSON is a third of the size."""
    return images.double().round(decimals=4).tolist()  # in double: float32 values print with 16 digits


@dataclass
class Context:
    """What an experiment gets: the assets, the protocol, its directory, a part cache
    valid for the settings key ``settings`` and the finished results it reads, by name."""

    assets: Assets
    protocol: Protocol
    directory: Path
    settings: str = ""
    reads: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _parts(self) -> Path:
        """``parts/``, emptied of parts computed under other (or unrecorded) settings."""
        from genprior.atomic import write_text_atomic

        parts = self.directory / "parts"
        stamp = parts / PARTS_SETTINGS
        recorded = stamp.read_text().strip() if stamp.exists() else None
        if recorded != self.settings:
            if parts.exists() and any(parts.iterdir()):
                stale = parts.with_name(f"parts.stale-{recorded or 'unknown'}")
                self.assets.log(f"  {self.directory.name}: parts of other settings ({recorded or 'unrecorded'}) "
                                f"moved to {stale}; computing them again")
                if stale.exists():
                    import shutil

                    shutil.rmtree(stale)
                parts.rename(stale)
            parts.mkdir(parents=True, exist_ok=True)
            write_text_atomic(stamp, self.settings + "\n")
        return parts

    def part_directory(self, key: str) -> Path:
        """A directory ``parts/<key>/`` for pieces of a part that are not JSON (a model's
        evaluation), emptied with the parts when the settings change."""
        return self._parts() / key

    def part(self, key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The cached part ``key``, or ``compute()`` written to ``parts/<key>.json`` first (compact
        JSON: parts hold long pixel lists, and ``result.json`` is the readable record)."""
        from genprior.atomic import write_text_atomic

        from genprior.experiments.paper.protocol import CELL_LOG

        path = self._parts() / f"{key}.json"
        if path.exists():
            return json.loads(path.read_text())
        prefix = f"  {self.directory.name}: {key}"
        self.assets.log(prefix)
        started = time.perf_counter()
        token = CELL_LOG.set(lambda message: self.assets.log(f"{prefix}: {message}"))
        try:
            value = compute()
        finally:
            CELL_LOG.reset(token)
        write_text_atomic(path, json.dumps(value, separators=(",", ":")) + "\n")
        self.assets.log(f"{prefix}: done in {time.perf_counter() - started:.0f} s (cached in {path.name})")
        return value


@dataclass(frozen=True)
class Experiment:
    """One figure or table of the paper.

    Attributes:
        name: the command-line name (``genprior paper NAME``).
        reproduces: what of the paper it reproduces.
        minutes: estimated 2-core CPU minutes (quick, full), models excluded.
        generators: the training recipes the experiment's generators come from, as
            ``"<kind>-<recipe data set>"`` (``"gan-mnist"``, ``"vae-knee"``): a change to
            one of these (and to no other recipe) redoes the experiment.
        run: ``run(context) -> {"markdown": section, ...}``; it writes its PNGs into
            ``context.directory`` and caches its pieces with ``context.part``.
        reads: the experiments whose finished results this one's report uses
            (``context.reads[name]``); they must have finished first, and when one of them
            is redone under new settings this one's report is made again (from its parts).
    """

    name: str
    reproduces: str
    minutes: tuple[float, float]
    generators: tuple[str, ...]
    run: Callable[[Context], dict[str, Any]]
    reads: tuple[str, ...] = ()


def settings_key(assets: Assets, protocol: Protocol, experiment: Experiment) -> str:
    """A short hash of everything a finished experiment depends on: its name, the mode,
    the protocol, the package version and the training recipes of its generators (a
    changed recipe trains new generators, so the experiments using them are redone)."""
    from genprior import __version__
    from genprior.training.recipes import recipe

    recipes = {}
    for entry in experiment.generators:
        kind, dataset = entry.split("-", 1)
        values = recipe(kind, dataset, assets.preset).as_dict()
        recipes[entry] = {k: v for k, v in values.items() if k != "source"}  # the values, not their description
    blob = json.dumps({"name": experiment.name, "quick": assets.quick, "preset": assets.preset,
                       "protocol": asdict(protocol), "version": __version__, "recipes": recipes}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def finished_result(assets: Assets, protocol: Protocol, experiment: Experiment) -> dict[str, Any] | None:
    """The ``result.json`` of ``experiment`` in this run directory if it finished under the
    current settings, else ``None``."""
    path = assets.root / experiment.name / "result.json"
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    return result if result.get("key") == settings_key(assets, protocol, experiment) else None


def run_experiments(experiments: Sequence[Experiment], assets: Assets, protocol: Protocol, header: str,
                    order: Sequence[Experiment] = ()) -> dict[str, dict[str, Any]]:
    """Run (or skip, when finished with the same settings) each experiment; rewrite ``REPORT.md``.

    ``REPORT.md`` gathers every experiment of ``order`` (all of them, in the paper's order) that has
    finished in this directory with the same settings, not only the ones run now.
    """
    from genprior.atomic import write_json_atomic, write_text_atomic

    done: dict[str, dict[str, Any]] = {}
    registry = {exp.name: exp for exp in (*order, *experiments)}
    estimates = [exp.minutes[0 if assets.quick else 1] for exp in experiments]
    for i, exp in enumerate(experiments, 1):
        directory = assets.root / exp.name
        result_path = directory / "result.json"
        key = settings_key(assets, protocol, exp)
        reads = {name: done.get(name) or finished_result(assets, protocol, registry[name]) for name in exp.reads}
        missing = [name for name, result in reads.items() if result is None]
        if missing:
            raise InputError(f"{exp.name} reads the results of {', '.join(missing)}, which have not finished in "
                             f"{assets.root} under the current settings: run `genprior paper "
                             f"{' '.join(missing)} --out {assets.root}` first (or `genprior paper all`)")
        read_keys = {name: result["key"] for name, result in reads.items()}
        previous = finished_result(assets, protocol, exp)
        if previous is not None and previous.get("reads", {}) == read_keys:
            assets.log(f"[{i}/{len(experiments)}] {exp.name}: finished earlier, skipped")
            done[exp.name] = previous
            continue
        estimate, left = estimates[i - 1], sum(estimates[i - 1:])
        assets.log(f"[{i}/{len(experiments)}] {exp.name}: {exp.reproduces} (about {estimate:g} min; this and the "
                   f"rest not yet finished: at most about {left:g} min, training the models comes on top)")
        directory.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        result = exp.run(Context(assets, protocol, directory, settings=key, reads=reads))
        result.update(key=key, name=exp.name, reproduces=exp.reproduces, reads=read_keys,
                      seconds=round(time.perf_counter() - started, 1))
        write_json_atomic(result_path, result)
        done[exp.name] = result
        assets.log(f"[{i}/{len(experiments)}] {exp.name}: done in {result['seconds']:.0f} s")
    for exp in order:
        previous = None if exp.name in done else finished_result(assets, protocol, exp)
        if previous is not None and all(previous.get("reads", {}).get(name) == (done.get(name) or {}).get("key")
                                        for name in exp.reads):
            done[exp.name] = previous
    names = [exp.name for exp in order]
    ranked = sorted(done.values(), key=lambda r: names.index(r["name"]) if r["name"] in names else len(names))
    at_a_glance = claims_table(ranked, [name for name in names if name not in done])
    sections = [header] + ([at_a_glance] if at_a_glance else [])
    sections += [f"{r['markdown']}\n\n_Wall time of the sitting that finished this experiment, training the generators "
                 f"it was the first to need included (work cached by earlier sittings not included): "
                 f"{r['seconds']:.0f} s._" for r in ranked]
    write_text_atomic(assets.root / "REPORT.md", "\n\n".join(sections) + "\n")
    return done
