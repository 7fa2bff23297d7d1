"""The compact denoiser recipe: variants compared at about equal CPU time, and the time per
step of the final recipes.

Run:  .venv/bin/python benchmarks/bench_denoiser.py [recipes|steps] [options] [--record] [--rows FILE]

* ``recipes --data FILE --variant NAME`` (one or more; default all): each variant trains
  the denoiser on the data set's recipe from the same initial weights for its own number
  of steps, a multiple of ``--base-steps`` sized so that every variant costs about the
  same CPU time (a width-16 UNet costs about a third of a width-32 one per step, batch 32
  half of batch 64), with a cosine decay over those steps; then denoising PSNR on the
  first 200 test images at the report card's noise levels, with the weight average
  (evaluation mode) and with the trained weights.
* ``steps --data FILE``: the final recipe of the data file's data set
  (:func:`genprior.training.recipes.recipe_configs`) trained for ``--seconds``; the wall
  and CPU seconds per step, the loss every 20 steps, and (in the table) the minutes the
  recipe's steps would take at those rates.

Every run prints one JSON row.  ``--record`` writes the section ``bench_denoiser`` of
``benchmarks/RESULTS.md`` from the rows of this call and of ``--rows FILE`` (JSON lines
printed earlier), with ``--notes FILE`` (Markdown) after the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchlib import machine, record

import torch

from genprior.data.io import load_dataset_meta, load_images
from genprior.evaluation.denoising import SIGMAS, DenoisingSettings, evaluate_denoiser
from genprior.training.loop import train
from genprior.models.checkpoint import build_model
from genprior.models.denoiser_recipe import STEPS
from genprior.training.recipes import dataset_of, recipe_configs, recipe_settings

N_TEST = 200
# name: (width, batch, lr, steps in units of --base-steps: the steps of a width-32, batch-64 variant); the
# units give every variant about the same CPU time
VARIANTS = {
    "w32-b64-lr1e-3": (32, 64, 1e-3, 1),
    "w32-b64-lr2e-3": (32, 64, 2e-3, 1),
    "w32-b64-lr5e-4": (32, 64, 5e-4, 1),
    "w16-b64-lr1e-3": (16, 64, 1e-3, 3),
    "w16-b32-lr1e-3": (16, 32, 1e-3, 6),
    "w16-b16-lr1e-3": (16, 16, 1e-3, 12),
}


def _psnr_row(model, test) -> dict[str, float]:
    result = evaluate_denoiser(model, test, DenoisingSettings(n=N_TEST, tune_n=1))
    return {f"{level['sigma']:g}": round(level["psnr"], 2) for level in result["summary"]["levels"]}


def run_variant(name: str, data: Path, out: Path, base_steps: int) -> dict:
    width, batch, lr, units = VARIANTS[name]
    steps = units * base_steps
    images, test = load_images(data, "train"), load_images(data, "test")
    dataset = dataset_of(load_dataset_meta(data), images.shape[-1])
    model_config, config = recipe_settings("denoiser", dataset, "compact", images.shape[-1],
                                           model_overrides={"width": width}, steps=steps, batch_size=batch, lr=lr,
                                           sample_every=None, checkpoint_every=10**6, log_every=50)
    torch.manual_seed(config.seed)
    model = build_model(model_config.to_dict())
    cpu, wall = time.process_time(), time.perf_counter()
    history = train(model, images, out / name, config, progress=False, force=True)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    row = {"bench": "recipes", "dataset": dataset, "variant": name, "width": width, "batch": batch, "lr": lr, "steps": steps,
           "cpu_s": round(cpu, 1), "wall_s": round(wall, 1), "threads": torch.get_num_threads(),
           "parameters": sum(p.numel() for p in model.net.parameters()),
           "loss_first": round(history[0]["loss"], 4), "loss_last": round(history[-1]["loss"], 4),
           "load": os.getloadavg()[0]}
    row["psnr_average"] = _psnr_row(model.eval(), test)
    row["psnr_trained"] = _psnr_row(_without_average(model), test)
    return row


def _without_average(model):
    """The same model evaluated with its trained weights (the average set aside)."""
    import copy

    plain = copy.deepcopy(model)
    plain.net_average = plain.net
    return plain


def run_steps(data: Path, seconds: float, out: Path) -> dict:
    images = load_images(data, "train")
    dataset = dataset_of(load_dataset_meta(data), images.shape[-1])
    model, config = recipe_configs("denoiser", dataset, "compact", images.shape[-1], max_seconds=seconds,
                                   sample_every=None, log_every=20)
    cpu, wall = time.process_time(), time.perf_counter()
    history = train(model, images, out / f"steps-{dataset}", config, progress=False, force=True)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    done = history[-1]["step"]
    per_step = wall / done
    return {"bench": "steps", "dataset": dataset, "width": model.config.width, "levels": model.config.levels,
            "batch": config.batch_size, "lr": config.lr, "recipe_steps": config.steps, "steps": done,
            "parameters": sum(p.numel() for p in model.net.parameters()), "threads": torch.get_num_threads(),
            "wall_s_per_step": round(per_step, 3), "cpu_s_per_step": round(cpu / done, 3),
            "losses": [(h["step"], round(h["loss"], 4)) for h in history], "load": os.getloadavg()[0]}


def render(rows: list[dict], notes: str) -> str:
    lines = ["## Compact denoiser: the recipe at about equal CPU time, and seconds per step (bench_denoiser)", "",
             f"Machine: {machine()}", ""]
    recipes = [r for r in rows if r["bench"] == "recipes"]
    if recipes:
        sig = [f"{s:g}" for s in SIGMAS]
        lines += ["**Recipes** (`bench_denoiser.py recipes --data DATA --base-steps B`): Adam with cosine decay over "
                  "each variant's steps, noise levels [0.005, 2.5], weight average 0.999; PSNR (dB, data range 1) "
                  f"of D(x + sigma e, sigma) on the first {N_TEST} test images, with the weight average / the trained "
                  "weights.", "",
                  "| data | variant | width | batch | lr | steps | parameters | CPU s | wall s | loss first -> last | "
                  + " | ".join(f"sigma {s}" for s in sig) + " |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---|" + "---:|" * len(sig)]
        for r in recipes:
            lines.append(f"| {r.get('dataset', 'mnist')} | {r['variant']} | {r['width']} | {r['batch']} | {r['lr']:g} | {r['steps']} | "
                         f"{r['parameters']:,} | {r['cpu_s']:.0f} | {r['wall_s']:.0f} | {r['loss_first']:.3f} -> "
                         f"{r['loss_last']:.3f} | " + " | ".join(
                             f"{r['psnr_average'][s]:.2f} / {r['psnr_trained'][s]:.2f}" for s in sig) + " |")
        lines.append("")
    steps = [r for r in rows if r["bench"] == "steps"]
    if steps:
        lines += ["**Seconds per step of the final recipes** (`bench_denoiser.py steps --data DATA --seconds S`; "
                  "the loss every 20 steps, first and last shown; the minutes the recipe's steps take at the "
                  "measured wall and CPU rates):", "",
                  "| data | width, levels | batch | parameters | threads | load | steps run | wall s/step | "
                  "CPU s/step | loss first -> last | recipe steps | minutes wall / CPU |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
        for r in steps:
            total = STEPS[r["dataset"]]
            (s0, l0), (s1, l1) = r["losses"][0], r["losses"][-1]
            lines.append(f"| {r['dataset']} | {r['width']}, {r['levels']} | {r['batch']} | {r['parameters']:,} | "
                         f"{r['threads']} | {r['load']:.1f} | {r['steps']} | {r['wall_s_per_step']:.3f} | "
                         f"{r['cpu_s_per_step']:.3f} | {l0:.3f} (step {s0}) -> {l1:.3f} (step {s1}) | {total} | "
                         f"{r['wall_s_per_step'] * total / 60:.0f} / {r['cpu_s_per_step'] * total / 60:.0f} |")
        lines.append("")
    return "\n".join(lines + [notes.strip(), ""]).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("recipes", "steps"))
    parser.add_argument("--data", type=Path)
    parser.add_argument("--variant", action="append", choices=list(VARIANTS))
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--base-steps", type=int, default=300)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--rows", type=Path)
    parser.add_argument("--notes", type=Path)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.rows.read_text().splitlines() if line.strip()] if args.rows else []
    if args.data is not None:
        out = args.out or Path(tempfile.mkdtemp(prefix="bench-denoiser-"))
        if args.mode == "recipes":
            for name in args.variant or list(VARIANTS):
                rows.append(run_variant(name, args.data, out, args.base_steps))
                print(json.dumps(rows[-1]), flush=True)
        else:
            rows.append(run_steps(args.data, args.seconds, out))
            print(json.dumps(rows[-1]), flush=True)
    if args.record:
        record("bench_denoiser", render(rows, args.notes.read_text() if args.notes else ""))
        print("recorded bench_denoiser in benchmarks/RESULTS.md", file=sys.stderr)


if __name__ == "__main__":
    main()
