"""Measured profile of `genprior paper`: a stated sample of each experiment's cells, computed again.

Run:  .venv/bin/python benchmarks/bench_paper_profile.py [--published docs/paper] [--only fig9,fig10] [--record]

For each experiment, the cells in :data:`SAMPLE` are deleted from a copy of the published
run (``--published``; its data, models and the results the experiment reads are shared) and
the experiment is run on the copy in this process, so exactly those cells are computed
again, with the published models, data, settings and code (the run stops if the code
changed since the results were published).  Criterion A1 of the generators experiment is
timed on a sample of test images by :func:`genprior.evaluation.coverage.range_coverage`
with the report card's settings (4 random starts for a GAN, the encoder for AE/VAE).

Each sampled cell is instrumented: wall time; solves (calls of the iteration loop
:func:`genprior.solvers.loop.iterate`), images solved and iterations summed over images;
time in the generator's forward (module hooks on every model the run loads: generators,
denoisers) and backward (from the gradient's arrival at the model's output to its arrival
at the model's input); time in the operators (every ``LinearOperator._forward`` /
``_adjoint``, outermost calls only; the adjoint inside autograd included); the rest is
"other" (the line search's bookkeeping, proximal steps, TV's finite differences, the
Python loop).  Shares are of the cell's wall time.

The estimate of a whole experiment on a quiet machine is its published compute time
(the sum of its cells' own times, measured under whatever load their sitting had) times
the ratio measured/published over its sampled cells; experiments whose cells carry no
time (fig7, fig8: the whole experiment is the sample; discrepancy: the median ratio of
the others) are said so in the table.  ``--record`` writes the table into RESULTS.md and
the estimates into ``src/genprior/experiments/paper/measured_minutes.json``, which
``genprior paper --list`` reads.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from benchlib import machine, record

import genprior  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch loads)

ROOT = Path(__file__).resolve().parents[1]
MINUTES_FILE = ROOT / "src" / "genprior" / "experiments" / "paper" / "measured_minutes.json"
# The sampled cells of each experiment ("*": every cell, the experiment is small).  Chosen to cover each
# experiment's methods at a few percent of its published time.
SAMPLE = {
    "fig7": "*",
    "fig8": "*",
    "fig9": ("vae-hard", "vae-relaxed", "tv"),
    "fig10": ("vae-hard", "gan-hard", "tikhonov", "tv"),
    "fig11": ("tv",),
    "measurements": ("hard-m100", "relaxed-m200", "tv-m300"),
    "noise": ("hard-s0.025", "tikhonov-s0.1", "tv-s0.025"),
    "encoder": ("mnist-vae-relaxed", "shapes-vae-hard"),
    "discrepancy": ("mnist-vae-hard", "mnist-tv"),
    "priors": ("mnist-pnp", "mnist-ddrm", "mnist-diffpir"),
}
A1_SAMPLE = (("shapes", "gan-10", 50), ("shapes", "vae-10", 200))  # (data set, model, test images)


class Meter:
    """Counters of one process: seconds in generator forward/backward and operators, solves, iterations."""

    def __init__(self) -> None:
        self.totals = dict.fromkeys(("gen_fwd", "gen_bwd", "op", "solves", "images", "iterations"), 0.0)
        self._op_depth = 0

    def snapshot(self) -> dict[str, float]:
        return dict(self.totals)

    # -- operators ---------------------------------------------------------------------
    def wrap_operator(self, fn):
        meter = self

        def timed(*args, **kwargs):
            if meter._op_depth:
                return fn(*args, **kwargs)
            meter._op_depth += 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                meter.totals["op"] += time.perf_counter() - start
                meter._op_depth -= 1
        return timed

    # -- models --------------------------------------------------------------------------
    def attach(self, model):
        """Time ``model``'s forward calls and the backward through them."""
        import torch

        meter, state = self, {}

        def pre(module, args):
            state["t"] = time.perf_counter()
            first = args[0] if args else None
            state["input"] = first if isinstance(first, torch.Tensor) and first.requires_grad else None

        def post(module, args, output):
            meter.totals["gen_fwd"] += time.perf_counter() - state["t"]
            source = state.pop("input", None)
            if isinstance(output, torch.Tensor) and output.requires_grad and source is not None:
                arrival = {}

                def at_output(grad):
                    arrival["t"] = time.perf_counter()

                def at_input(grad):
                    if "t" in arrival:
                        meter.totals["gen_bwd"] += time.perf_counter() - arrival.pop("t")
                output.register_hook(at_output)
                source.register_hook(at_input)
        model.register_forward_pre_hook(pre)
        model.register_forward_hook(post)
        return model

    # -- the iteration loop --------------------------------------------------------------
    def wrap_iterate(self, fn):
        meter = self

        def counted(*args, **kwargs):
            out = fn(*args, **kwargs)
            meter.totals["solves"] += 1
            meter.totals["images"] += int(out.iterations.numel())
            meter.totals["iterations"] += int(out.iterations.sum())
            return out
        return counted


@contextmanager
def instrumented(meter: Meter):
    """Patch the operators, the model loader and the iteration loop for the duration."""
    import importlib
    import pkgutil

    import genprior.models.checkpoint as checkpoint
    import genprior.solvers.loop as loop
    from genprior.physics.operator import LinearOperator

    for sub in ("physics", "methods", "solvers", "choice", "evaluation", "experiments"):
        package = importlib.import_module(f"genprior.{sub}")
        for info in pkgutil.walk_packages(package.__path__, f"genprior.{sub}."):
            importlib.import_module(info.name)
    undo = []

    def patch(owner, name, value):
        undo.append((owner, name, owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)))
        setattr(owner, name, value)

    classes, todo = [], [LinearOperator]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo += cls.__subclasses__()
    for cls in classes:
        for name in ("_forward", "_adjoint"):
            if name in cls.__dict__:
                patch(cls, name, meter.wrap_operator(cls.__dict__[name]))
    original_load = checkpoint.load_model
    patch(checkpoint, "load_model", lambda *a, **k: meter.attach(original_load(*a, **k)))
    original_iterate = loop.iterate
    counted = meter.wrap_iterate(original_iterate)
    patch(loop, "iterate", counted)  # the solvers that import it when they run
    for module in list(sys.modules.values()):
        if module is not loop and getattr(module, "__name__", "").startswith("genprior") and getattr(module, "iterate", None) is original_iterate:
            patch(module, "iterate", counted)
    try:
        yield meter
    finally:
        for owner, name, value in reversed(undo):
            setattr(owner, name, value)


def shares(delta: dict[str, float], seconds: float) -> dict[str, float]:
    """The cell's counters and its time shares (generator forward/backward, operator, other)."""
    gen = delta["gen_fwd"] + delta["gen_bwd"]
    return {"seconds": seconds, "solves": int(delta["solves"]), "images": int(delta["images"]),
            "iterations": int(delta["iterations"]), "gen_fwd": delta["gen_fwd"] / seconds,
            "gen_bwd": delta["gen_bwd"] / seconds, "op": delta["op"] / seconds,
            "other": max(0.0, 1 - (gen + delta["op"]) / seconds)}


def profile_experiment(name: str, published: Path, work: Path, meter: Meter) -> dict:
    """Compute the sampled cells of ``name`` again on a copy of the published run."""
    from genprior.experiments.paper import EXPERIMENTS, run_paper
    from genprior.experiments.paper.runner import Context

    experiment = EXPERIMENTS[name]
    out = work / name
    out.mkdir(parents=True)
    for shared in ("data", "models"):
        (out / shared).symlink_to((published / shared).resolve())
    for other in (name, *experiment.reads):
        shutil.copytree(published / other, out / other, ignore=shutil.ignore_patterns("*-models", "parts.stale-*"))
    (out / name / "result.json").unlink()
    parts = out / name / "parts"
    keys = sorted(p.stem for p in parts.glob("*.json")) if SAMPLE[name] == "*" else list(SAMPLE[name])
    published_seconds = published_cells(out / name)
    for k in keys:
        (parts / f"{k}.json").unlink()
    cells = {}
    original_part = Context.part

    def timed_part(self, key, compute):
        if key not in keys or (self.directory / "parts" / f"{key}.json").exists():
            return original_part(self, key, compute)
        before, start = meter.snapshot(), time.perf_counter()
        value = original_part(self, key, compute)
        seconds = time.perf_counter() - start
        delta = {k: meter.totals[k] - before[k] for k in before}
        cells[key] = {**shares(delta, seconds), "published": published_seconds.get(key)}
        return value

    Context.part = timed_part
    start = time.perf_counter()
    try:
        run_paper([name], out, log=lambda message: print(f"    {message}", flush=True))
    finally:
        Context.part = original_part
    total = time.perf_counter() - start
    result = json.loads((published / name / "result.json").read_text())
    return {"cells": cells, "run_seconds": total, "published_result_seconds": result.get("seconds")}


def profile_a1(published: Path, meter: Meter) -> dict:
    """Criterion A1 (the report card's settings) on a sample of test images, per model of A1_SAMPLE."""
    from genprior.data.io import load_images
    from genprior.evaluation.coverage import range_coverage
    from genprior.models.checkpoint import load_model

    metrics = json.loads((published / "generators" / "shapes" / "metrics.json").read_text())
    settings = metrics["settings"]
    out = {}
    for dataset, model, n in A1_SAMPLE:
        kind, latent = model.split("-")
        directory = next((published / "models").glob(f"{dataset}-{kind}-{latent}-compact-*"))
        G = load_model(directory)
        test = load_images(published / "data" / f"{dataset}.npz", "test")[:n]
        before, start = meter.snapshot(), time.perf_counter()
        range_coverage(G, test, restarts=settings["restarts"], max_iter=settings["max_iter"], tol=settings["tol"],
                       seed=settings["seed"])
        seconds = time.perf_counter() - start
        delta = {k: meter.totals[k] - before[k] for k in before}
        per_image_published = metrics["models"][model]["timings"]["A1"] / settings["n"]
        out[f"A1 {dataset} {model} ({n} images)"] = {**shares(delta, seconds),
                                                      "published": per_image_published * n}
    return out


def published_cells(directory: Path) -> dict[str, float | None]:
    """Each published cell's own seconds (``None`` where it carries none)."""
    out = {}
    for path in sorted((directory / "parts").glob("*.json")):
        value = json.loads(path.read_text()).get("seconds")
        out[path.stem] = float(value) if isinstance(value, (int, float)) else None
    return out


def estimate_cells(name: str, report: dict, published: Path, fallback_ratio: float) -> tuple[dict[str, float], str]:
    """The quiet estimate of every cell of the experiment (seconds) and how it was made."""
    cells = {k: c for k, c in report["cells"].items() if c["published"]}
    all_cells = published_cells(published / name)
    if name in ("fig7", "fig8"):
        return {k: c["seconds"] for k, c in report["cells"].items()}, "the whole experiment, run now"
    if not cells or any(v is None for v in all_cells.values()):
        base = report["published_result_seconds"]
        share = base * fallback_ratio / len(all_cells)
        return dict.fromkeys(all_cells, share), (f"published {base:,.0f} s x the median ratio {fallback_ratio:.2f} "
                                                 "(its cells carry no times)")
    ratio = sum(c["seconds"] for c in cells.values()) / sum(c["published"] for c in cells.values())
    total = sum(all_cells.values())
    return {k: v * ratio for k, v in all_cells.items()}, f"published cells {total:,.0f} s x {ratio:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--published", type=Path, default=ROOT / "docs" / "paper")
    parser.add_argument("--only", default="", help="Comma-separated experiments (default: every sampled one + A1).")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own, 2 here).")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    names = [n for n in SAMPLE if not args.only or n in args.only.split(",")]
    header = machine()
    print(header, flush=True)
    meter = Meter()
    reports = {}
    with instrumented(meter), tempfile.TemporaryDirectory(prefix="paper-profile-") as tmp:
        for name in names:
            print(f"{name}: {SAMPLE[name]}", flush=True)
            reports[name] = profile_experiment(name, args.published, Path(tmp), meter)
        a1 = profile_a1(args.published, meter) if not args.only or "generators" in args.only.split(",") else {}
    ratios = [sum(c["seconds"] for c in r["cells"].values() if c["published"]) /
              sum(c["published"] for c in r["cells"].values() if c["published"])
              for n, r in reports.items() if n not in ("fig7", "fig8") and any(c["published"] for c in r["cells"].values())]
    a1_ratios = [c["seconds"] / c["published"] for c in a1.values()]
    median_ratio = statistics.median(ratios + a1_ratios) if ratios + a1_ratios else 1.0
    table = ["| experiment: cell | s now | s published | ratio | solves | images | iterations | gen fwd | gen bwd | "
             "operator | other |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in [*reports.items(), ("generators", {"cells": a1})]:
        for key, c in r["cells"].items():
            pub = f"{c['published']:,.1f}" if c["published"] else "-"
            ratio = f"{c['seconds'] / c['published']:.2f}" if c["published"] else "-"
            table.append(f"| {name}: {key} | {c['seconds']:,.1f} | {pub} | {ratio} | {c['solves']} | {c['images']} | "
                         f"{c['iterations']:,} | {c['gen_fwd']:.0%} | {c['gen_bwd']:.0%} | {c['op']:.0%} | "
                         f"{c['other']:.0%} |")
    estimates = {name: estimate_cells(name, r, args.published, median_ratio) for name, r in reports.items()}
    if a1:
        ratio = statistics.median(a1_ratios)
        parts = published_cells(args.published / "generators")
        estimates["generators"] = ({k: v * ratio for k, v in parts.items()},
                                   f"published cells {sum(parts.values()):,.0f} s x the A1 sample's ratio {ratio:.2f}")
    lines = ["| experiment | estimate on a quiet machine (min) | how |", "|---|---:|---|"]
    lines += [f"| {n} | {sum(c.values()) / 60:,.1f} | {how} |" for n, (c, how) in estimates.items()]
    load_end = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print("\n".join(table + [""] + lines))
    if args.record:
        section = "\n".join([
            "## `genprior paper`: a measured profile (bench_paper_profile)", "",
            f"Command: `.venv/bin/python benchmarks/bench_paper_profile.py{' --threads ' + str(args.threads) if args.threads else ''} --record` "
            f"({date.today()}), one process holding both CPU slots of this sitting's heavy jobs (other light "
            f"processes were not stopped; load average at the end {load_end})  ", f"Machine: {header}", "",
            "Each row is one sampled cell computed again on a copy of the published run (docs/paper), with its "
            "published models, data and settings; `s published` is the same cell's own time in the sitting that "
            "published it (whatever its load), `ratio` now/published. Shares are of the cell's wall time: the "
            "generator's forward and backward (every loaded model, the denoisers included), the operators "
            "(A and A^T, the adjoint in autograd included), and the rest. A1 rows: criterion A1 with the report "
            "card's settings on the first test images.", "", *table, "",
            "Estimates of each experiment on a quiet machine (what `genprior paper --list` shows):", "", *lines, ""])
        record("bench_paper_profile", section)
        from genprior.atomic import write_text_atomic

        payload = {"measured": f"benchmarks/bench_paper_profile.py, {date.today()}; {header}",
                   "minutes": {n: round(sum(c.values()) / 60, 1) for n, (c, _) in estimates.items()},
                   "how": {n: how for n, (_, how) in estimates.items()},
                   "cell_seconds": {n: {k: round(v, 1) for k, v in c.items()} for n, (c, _) in estimates.items()}}
        if MINUTES_FILE.exists():  # a run of some experiments (--only) keeps the others' estimates
            kept = json.loads(MINUTES_FILE.read_text())
            payload["minutes"] = {**kept["minutes"], **payload["minutes"]}
            payload["how"] = {**kept["how"], **payload["how"]}
            payload["cell_seconds"] = {**kept.get("cell_seconds", {}), **payload["cell_seconds"]}
        write_text_atomic(MINUTES_FILE, json.dumps(payload, indent=1) + "\n")
        print(f"recorded in benchmarks/RESULTS.md and {MINUTES_FILE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
