"""Run the paper's experiments with a cache: finished work is never redone.

Layout of the run directory ``DIR``:

- ``DIR/data/``, ``DIR/models/``: the shared assets (:mod:`.assets`);
- ``DIR/<experiment>/parts/<key>.json``: each finished piece of an experiment (one
  table cell, one model's report), written atomically when it finishes; a rerun after
  a kill loads these and computes only what is missing.  ``parts/SETTINGS`` holds the
  settings key the parts were computed under: parts of other settings (or of unknown
  ones) are moved aside to ``parts.stale-<key>`` and computed again.  ``parts/CODE``
  holds the fingerprint of the code that computed them;
- ``DIR/<experiment>/result.json``: the finished experiment (its settings key, its code
  fingerprint, the parts, the report section, wall time); an experiment whose
  ``result.json`` has the same settings key (and, for an experiment that reads others'
  results, the same keys of those) and the same code fingerprint is skipped;
- ``DIR/REPORT.md``: every finished experiment's section, in the paper's order.

Never stale.  The settings key (:func:`settings_key`) covers the experiment's setup (the
constants of its module, :func:`~.provenance.module_setup`), the data sizes, the mode, the
protocol and its generators' recipes: a change to any of them computes the experiment
again.  The code fingerprint (:func:`~.provenance.fingerprint`) covers the source of every
module its computation reaches.  When only the code changed, the run stops before any
work and names the modules (:class:`CodeChanged`): recompute (delete the experiment's
directory), or keep the results with ``accept`` (``--accept-code-change REASON``, for a
change verified to leave every number as it was), which re-stamps the fingerprint,
records the reason and the modules in ``result.json`` (``code_changes``) and makes the
experiment's report and figures again from its cached parts.
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
PARTS_CODE = "CODE"  # the file in parts/ holding the fingerprint of the code that computed them


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
    code: dict[str, str] = field(default_factory=dict)

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
            write_text_atomic(parts / PARTS_CODE, json.dumps({"code": self.code, "code_changes": []}) + "\n")
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
        from genprior.experiments.paper.estimates import time_left
        from genprior.experiments.paper.protocol import CELL_LOG

        path = self._parts() / f"{key}.json"
        if path.exists():
            return json.loads(path.read_text())
        prefix = f"  {self.directory.name}: {key}"
        done = {p.stem for p in path.parent.glob("*.json")}
        where = "" if self.assets.quick else time_left(self.directory.name, done)
        self.assets.log(prefix + (f" ({where})" if where else ""))
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
            ``"<kind>-<recipe data set>"`` (``"gan-mnist"``) in the run's preset, or
            ``"<kind>-<recipe data set>:<preset>"`` (``"vae-knee:paper"``) in a preset of
            their own: a change to one of these (and to no other recipe) redoes the experiment.
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


def settings_record(assets: Assets, protocol: Protocol, experiment: Experiment) -> dict[str, Any]:
    """The set-up a finished experiment depends on: its name, its setup (the constants of its
    module), the data sizes, the mode, the protocol and the training recipes of its generators
    (a changed recipe trains new generators, so the experiments using them are redone).  The
    code is not in it: see :func:`code_changes`."""
    from genprior.experiments.paper.provenance import module_setup
    from genprior.training.recipes import recipe

    recipes = {}
    for entry in experiment.generators:
        name, _, preset = entry.partition(":")
        kind, dataset = name.split("-", 1)
        values = recipe(kind, dataset, preset or assets.preset).as_dict()
        recipes[entry] = {k: v for k, v in values.items() if k != "source"}  # the values, not their description
    return json.loads(json.dumps({"name": experiment.name, "quick": assets.quick, "preset": assets.preset,
                                  "protocol": asdict(protocol), "recipes": recipes,
                                  "setup": module_setup(experiment.run.__module__),
                                  "data": module_setup(Assets.__module__)}))


def settings_key(assets: Assets, protocol: Protocol, experiment: Experiment) -> str:
    """A short hash of :func:`settings_record`."""
    return key_of(settings_record(assets, protocol, experiment))


def key_of(record: dict[str, Any]) -> str:
    """The settings key of a settings record."""
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def finished_result(assets: Assets, protocol: Protocol, experiment: Experiment) -> dict[str, Any] | None:
    """The ``result.json`` of ``experiment`` in this run directory if it finished under the
    current settings, else ``None``."""
    path = assets.root / experiment.name / "result.json"
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    return result if result.get("key") == settings_key(assets, protocol, experiment) else None


class CodeChanged(InputError):
    """The code that computed finished (or cached) results changed while their setup did not."""


def _parts_code(directory: Path, key: str) -> tuple[bool, dict[str, Any]]:
    """``(whether parts/ holds work computed under key, its CODE record)``."""
    parts = directory / "parts"
    stamp = parts / PARTS_SETTINGS
    if not stamp.exists() or stamp.read_text().strip() != key:
        return False, {}
    work = any(p.name not in (PARTS_SETTINGS, PARTS_CODE) for p in parts.iterdir())
    code = parts / PARTS_CODE
    return work, json.loads(code.read_text()) if code.exists() else {"code": None, "code_changes": []}


def code_changes(assets: Assets, protocol: Protocol, experiments: Sequence[Experiment],
                 accept: str | None = None) -> dict[str, list[str]]:
    """The experiments whose finished result or cached parts were computed, under their current
    settings key, by code that has changed since: ``{name: changed modules}``.

    Raises:
        CodeChanged: some did and ``accept`` (the reason to keep them) is ``None``.
    """
    from genprior.experiments.paper.provenance import changed_modules, fingerprint

    stale = {}
    for exp in experiments:
        directory, key = assets.root / exp.name, settings_key(assets, protocol, exp)
        result = finished_result(assets, protocol, exp)
        work, parts = _parts_code(directory, key)
        if result is None and not work:
            continue  # nothing computed under this setup: it will be computed by the current code
        changed = changed_modules(result.get("code") if result is not None else parts["code"],
                                  fingerprint(exp.run.__module__))
        if changed:
            stale[exp.name] = changed
    if stale and accept is None:
        listed = "; ".join(f"{name}: {', '.join(modules)}" for name, modules in stale.items())
        dirs = " ".join(str(assets.root / name) for name in stale)
        raise CodeChanged(f"the code that computed these results changed since, their setup did not ({listed}); "
                          f"to recompute, delete {dirs} and run again; to keep them (a change verified to leave "
                          f"every number as it was), run again with --accept-code-change \"REASON\"")
    return stale


def _minutes(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.2g}"


def run_experiments(experiments: Sequence[Experiment], assets: Assets, protocol: Protocol, header: str,
                    order: Sequence[Experiment] = (), accept: str | None = None) -> dict[str, dict[str, Any]]:
    """Run (or skip, when finished with the same settings and code) each experiment; rewrite ``REPORT.md``.

    Before any work, :func:`code_changes` stops the run if finished or cached work of an
    experiment was computed by code that has changed, unless ``accept`` gives the reason to
    keep it: such an experiment's fingerprint is then re-stamped (the reason recorded) and its
    report made again from its cached parts.  ``REPORT.md`` gathers every experiment of
    ``order`` (all of them, in the paper's order) that has finished in this directory with
    the same settings, not only the ones run now.
    """
    import datetime

    from genprior.atomic import write_json_atomic, write_text_atomic
    from genprior.experiments.paper.estimates import estimate as measured_estimate
    from genprior.experiments.paper.provenance import fingerprint
    from genprior.experiments.paper.report_notes import code_note, stale_section
    from genprior.experiments.paper.republish import republication, republication_note

    stale = code_changes(assets, protocol, experiments, accept)
    done: dict[str, dict[str, Any]] = {}
    registry = {exp.name: exp for exp in (*order, *experiments)}
    estimates = [exp.minutes[0] if assets.quick else measured_estimate(exp).minutes for exp in experiments]
    for i, exp in enumerate(experiments, 1):
        directory = assets.root / exp.name
        result_path = directory / "result.json"
        settings = settings_record(assets, protocol, exp)
        key, code = key_of(settings), fingerprint(exp.run.__module__)
        reads = {name: done.get(name) or finished_result(assets, protocol, registry[name]) for name in exp.reads}
        missing = [name for name, result in reads.items() if result is None]
        if missing:
            raise InputError(f"{exp.name} reads the results of {', '.join(missing)}, which have not finished in "
                             f"{assets.root} under the current settings: run `genprior paper "
                             f"{' '.join(missing)} --out {assets.root}` first (or `genprior paper all`)")
        read_keys = {name: result["key"] for name, result in reads.items()}
        previous = finished_result(assets, protocol, exp)
        if previous is not None and previous.get("reads", {}) == read_keys and exp.name not in stale:
            assets.log(f"[{i}/{len(experiments)}] {exp.name}: finished earlier, skipped")
            done[exp.name] = previous
            continue
        history = _parts_code(directory, key)[1].get("code_changes") or (previous or {}).get("code_changes", [])
        if exp.name in stale:
            history = [*history, {"reason": accept, "modules": stale[exp.name],
                                  "date": datetime.date.today().isoformat()}]
            write_text_atomic(directory / "parts" / PARTS_CODE,
                              json.dumps({"code": code, "code_changes": history}) + "\n")
            assets.log(f"[{i}/{len(experiments)}] {exp.name}: code changed ({', '.join(stale[exp.name])}), kept "
                       f"as accepted ({accept}); its report is made again from its cached parts")
        else:
            estimate, left = estimates[i - 1], sum(estimates[i - 1:])
            assets.log(f"[{i}/{len(experiments)}] {exp.name}: {exp.reproduces} (about {_minutes(estimate)} min; this "
                       f"and the rest not yet finished: at most about {_minutes(left)} min, training the models comes on top)")
        directory.mkdir(parents=True, exist_ok=True)
        earlier = _earlier_result(result_path)  # whatever was published here, under any settings
        started = time.perf_counter()
        result = exp.run(Context(assets, protocol, directory, settings=key, reads=reads, code=code))
        seconds = round(time.perf_counter() - started, 1)
        if exp.name in stale and previous is not None:
            seconds = previous["seconds"]  # the sitting that computed it; remaking the report is not one
        result.update(key=key, name=exp.name, reproduces=exp.reproduces, reads=read_keys, code=code,
                      code_changes=history, seconds=seconds, settings=settings)
        result["republished"] = republication(earlier, result)
        write_json_atomic(result_path, result)
        done[exp.name] = result
        assets.log(f"[{i}/{len(experiments)}] {exp.name}: done in {time.perf_counter() - started:.0f} s")
    outdated: dict[str, tuple[dict[str, Any], str]] = {}  # name -> (earlier result, current settings key)
    for exp in order:
        previous = None if exp.name in done else finished_result(assets, protocol, exp)
        if previous is not None and all(previous.get("reads", {}).get(name) == (done.get(name) or {}).get("key")
                                        for name in exp.reads):
            done[exp.name] = previous
        elif exp.name not in done:
            old, current = _earlier_result(assets.root / exp.name / "result.json"), settings_key(assets, protocol, exp)
            if old is not None and old.get("key") != current:  # kept, marked stale
                outdated[exp.name] = (old, current)
    names = [exp.name for exp in order]
    position = lambda r: names.index(r["name"]) if r["name"] in names else len(names)  # noqa: E731
    ranked = sorted(done.values(), key=position)
    unfinished = [f"{name} (its section below is stale)" if name in outdated else name for name in names
                  if name not in done]
    at_a_glance = claims_table(ranked, unfinished)
    sections = [header] + ([at_a_glance] if at_a_glance else [])
    for r in sorted([*ranked, *(old for old, _ in outdated.values())], key=position):
        if r["name"] in outdated:
            sections.append(stale_section(r, outdated[r["name"]][1]))
            continue
        sections.append(f"{r['markdown']}\n\n_Wall time of the sitting that finished this experiment, training the "
                        f"generators it was the first to need included (work cached by earlier sittings not "
                        f"included): {r['seconds']:.0f} s._" + code_note(r, registry.get(r["name"]))
                        + republication_note(r))
    write_text_atomic(assets.root / "REPORT.md", "\n\n".join(sections) + "\n")
    return done


def _earlier_result(path: Path) -> dict[str, Any] | None:
    """The result published at ``path`` before this run (``None``: none, or unreadable)."""
    try:
        earlier = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return earlier if isinstance(earlier, dict) else None
