"""The compact WGAN-GP recipe: optimisers compared at an equal training time, and the
final compact GANs (MNIST latent 8, Shapes latent 10) on criterion A1 and, for MNIST,
the digit classifier's sample quality.

Run:  .venv/bin/python benchmarks/bench_gan.py [recipes|architecture|final] [--record] [--rows FILE]

* ``recipes``: on MNIST (and one Shapes check), each WGAN-GP variant trains the compact
  nets for ``--seconds`` of one CPU thread (the same time for all, whatever their cost
  per step), then A1 on the first 200 test images (best of 4 random starts, 200
  iterations).  Variants: learning rate(s), a two-time-scale rule (critic and generator
  rates differ), critic steps per generator step, cosine decay over the time budget.
  The gradient penalty (10), Adam betas (0, 0.9) and batch 50 are the paper's for all.
  Sample grids go to ``runs/bench-gan/``.
* ``architecture`` (``--variant A..F``, one per process; we ran three at a time): the
  Adam 1e-3 / 2 critic steps recipe with other nets and averaging, each for ``--seconds``
  on one thread: generator / critic widths, a linear learning-rate decay to 0 over the
  budget, a sigmoid output, batch normalisation in the generator.  Each run keeps an
  exponential moving average of the generator's weights (decay 0.999 after a warm-up)
  and scores both the trained and the averaged generator: A1 on the first 200 test
  images and the digit classifier on 2,000 samples.  Grids go to ``runs/bench-gan/``.
* ``final``: the runs ``--runs DIR/final-{mnist-gan-8,shapes-gan-10}`` trained with the
  plain ``genprior train gan --data DATA --out RUN`` (the compact defaults): A1 on the
  first ``--n-test`` test images, digit-classifier scores of 10,000 MNIST samples, and
  the sample grids copied to ``docs/figures/samples-{mnist-gan-8,shapes-gan-10}.png``.

``--record`` writes the section ``bench_training_gan`` of ``benchmarks/RESULTS.md``;
``--rows FILE`` re-renders it from the JSON lines of earlier runs (one ``recipes`` or
``final`` row per line, as printed).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

from benchlib import machine, record

import torch

from genprior.models import create_model

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "docs" / "figures"
LATENT = {"mnist": 8, "shapes": 10}
TARGET = {"mnist": 0.50, "shapes": 0.25}  # the A1 targets for the compact GANs
# (name, data set, generator lr, critic lr, critic steps, decay): the variants compared
VARIANTS = (
    ("paper optimiser", "mnist", 1e-4, 1e-4, 5, "none"),
    ("Adam 1e-3, 5 critic steps", "mnist", 1e-3, 1e-3, 5, "none"),
    ("Adam 5e-4, 5 critic steps", "mnist", 5e-4, 5e-4, 5, "none"),
    ("TTUR G 1e-4 / D 4e-4, 1 critic step", "mnist", 1e-4, 4e-4, 1, "none"),
    ("Adam 1e-3, 2 critic steps (compact)", "mnist", 1e-3, 1e-3, 2, "none"),
    ("Adam 1e-3, 2 critic steps, cosine", "mnist", 1e-3, 1e-3, 2, "cosine"),
    ("Adam 1e-3, 2 critic steps (compact)", "shapes", 1e-3, 1e-3, 2, "none"),
)


# name -> (generator width, critic width, learning-rate decay, generator output, batch norm in the generator)
ARCHITECTURES = {
    "A": (16, 16, "none", "linear", False),
    "B": (16, 64, "none", "linear", False),
    "C": (32, 64, "none", "linear", False),
    "D": (16, 16, "linear", "linear", False),
    "E": (16, 16, "linear", "sigmoid", False),
    "F": (16, 16, "linear", "sigmoid", True),
}


def a1_nrmse(model, images: torch.Tensor, chunk: int = 250) -> torch.Tensor:
    """Criterion A1 per image: NRMSE of ``G(z*(x))``, best of 4 random starts, 200 iterations."""
    from genprior.methods.projection import project_to_range

    out = []
    for start in range(0, images.shape[0], chunk):
        x = images[start:start + chunk]
        res = project_to_range(model, x, init="random", restarts=4, seed=start, max_iter=200)
        out.append(((res.x - x).flatten(1).norm(dim=1) / x.flatten(1).norm(dim=1)).detach())
    return torch.cat(out)


def lr_scale(decay: str, fraction: float) -> float:
    """The learning-rate factor after ``fraction`` of the time budget: ``none`` 1, ``cosine``
    from 1 down to 0.05, ``linear`` from 1 down to 0."""
    if decay == "cosine":
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * fraction))
    if decay == "linear":
        return max(0.0, 1 - fraction)
    return 1.0


def train_gan_for(model, x: torch.Tensor, seconds: float, lr_g: float, lr_c: float, critic_steps: int, decay: str,
                  batch: int = 50, seed: int = 0) -> tuple[int, dict[str, float]]:
    """Train the WGAN-GP ``model`` on ``x`` for ``seconds`` of wall time (batches drawn with
    replacement, Adam betas (0, 0.9)); after each generator update ``model.after_update`` folds
    the weights into its moving average, if it keeps one.  Returns ``(steps, last log)``."""
    opt_g = torch.optim.Adam(model.decoder.parameters(), lr=lr_g, betas=(0.0, 0.9))
    opt_c = torch.optim.Adam(model.critic_net.parameters(), lr=lr_c, betas=(0.0, 0.9))
    g = torch.Generator().manual_seed(seed)
    model.train()
    start, steps, logs = time.perf_counter(), 0, {}
    while (elapsed := time.perf_counter() - start) < seconds:
        scale = lr_scale(decay, elapsed / seconds)
        for opt, lr in ((opt_g, lr_g), (opt_c, lr_c)):
            for group in opt.param_groups:
                group["lr"] = lr * scale
        for _ in range(critic_steps):
            loss, logs = model.critic_loss(x[torch.randint(0, x.shape[0], (batch,), generator=g)])
            opt_c.zero_grad()
            loss.backward()
            opt_c.step()
        loss, _ = model.generator_loss(batch)
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
        model.after_update("generator")
        steps += 1
    return steps, {k: float(v) for k, v in logs.items()}


def train_for(dataset: str, data: Path, seconds: float, lr_g: float, lr_c: float, critic_steps: int,
              decay: str, batch: int = 50, seed: int = 0):
    """Train a compact WGAN-GP for ``seconds`` of wall time; returns ``(model, steps, last log)``."""
    from genprior.data.io import load_images

    x = load_images(data, "train")
    torch.manual_seed(seed)
    model = create_model("gan", latent_dim=LATENT[dataset], image_size=x.shape[-1], critic_steps=critic_steps)
    steps, logs = train_gan_for(model, x, seconds, lr_g, lr_c, critic_steps, decay, batch, seed)
    return model.eval(), steps, logs


def _with_batch_norm(decoder: torch.nn.Sequential) -> torch.nn.Sequential:
    """The compact decoder with batch normalisation before each LeakyReLU (DCGAN's generator)."""
    from torch import nn

    layers: list[nn.Module] = []
    for m in decoder:
        if isinstance(m, nn.LeakyReLU):
            prev = layers[-1]
            layers.append(nn.BatchNorm1d(prev.out_features) if isinstance(prev, nn.Linear)
                          else nn.BatchNorm2d(prev.out_channels))
        layers.append(m)
    return nn.Sequential(*layers)


def architecture(variant: str, data_dir: Path, seconds: float, n_test: int = 200) -> dict:
    """One :data:`ARCHITECTURES` variant on MNIST for ``seconds`` of one thread, scored raw and averaged."""
    import copy

    from torch import nn

    from genprior.data.io import load_images
    from genprior.evaluation.digits import default_digit_classifier, digit_sample_quality
    from genprior.figures import image_grid
    from genprior.models.architectures import compact_decoder, compact_encoder

    torch.set_num_threads(1)
    width, critic_width, decay, output, batch_norm = ARCHITECTURES[variant]
    data = data_dir / "mnist.npz"
    x = load_images(data, "train")
    n, d, batch, lr, critic_steps = x.shape[-1], LATENT["mnist"], 50, 1e-3, 2
    torch.manual_seed(0)
    model = create_model("gan", latent_dim=d, image_size=n, critic_steps=critic_steps, generator_ema=0.999)
    model.decoder = compact_decoder(d, n, width)
    if batch_norm:
        model.decoder = _with_batch_norm(model.decoder)
    if output == "sigmoid":
        model.decoder.append(nn.Sigmoid())
    model.critic_net = compact_encoder(n, 1, critic_width)
    model.generator_average = copy.deepcopy(model.decoder).requires_grad_(False)  # the average of the new decoder
    load = os.getloadavg()[0]
    steps, logs = train_gan_for(model, x, seconds, lr, lr, critic_steps, decay, batch, seed=0)
    model.eval()
    trained = copy.deepcopy(model)  # the trained weights as the generator (evaluation mode uses the average)
    trained.generator_average = trained.decoder
    test = load_images(data, "test")[:n_test]
    row = {"row": "architecture", "name": variant, "gw": width, "cw": critic_width, "decay": decay, "output": output,
           "batch_norm": batch_norm, "seconds": seconds, "steps": steps, "load": load,
           "wasserstein": logs["wasserstein"]}
    for tag, generator in (("raw", trained), ("ema", model)):
        row[f"a1_{tag}"] = float(a1_nrmse(generator, test).median())
        q = digit_sample_quality(generator, n=2000, classifier=default_digit_classifier(log=None))
        row[f"conf_{tag}"], row[f"min_{tag}"] = q.confident_share, q.min_share
        with torch.no_grad():
            grid = generator(torch.randn(32, d, generator=torch.Generator().manual_seed(0)))
        image_grid(grid, ROOT / "runs" / "bench-gan" / f"architecture-{variant}-{tag}.png", ncol=8,
                   title=f"MNIST: variant {variant} ({tag})")
    print(json.dumps(row), flush=True)
    return row


def recipes(data_dir: Path, seconds: float, n_test: int) -> list[dict]:
    from genprior.data.io import load_images
    from genprior.figures import image_grid

    torch.set_num_threads(1)
    out = ROOT / "runs" / "bench-gan"
    rows = []
    for name, dataset, lr_g, lr_c, critic_steps, decay in VARIANTS:
        data = data_dir / f"{dataset}.npz"
        budget = seconds * (1.25 if dataset == "shapes" else 1.0)
        load = os.getloadavg()[0]
        model, steps, logs = train_for(dataset, data, budget, lr_g, lr_c, critic_steps, decay)
        nrmse = a1_nrmse(model, load_images(data, "test")[:n_test])
        with torch.no_grad():
            grid = model(torch.randn(32, LATENT[dataset], generator=torch.Generator().manual_seed(0)))
        slug = f"{dataset}-{name.split(' (')[0].replace(' ', '-').replace(',', '').replace('/', '')}"
        image_grid(grid, out / f"{slug}.png", ncol=8, title=f"{dataset}: {name}")
        row = {"row": "recipes", "name": name, "dataset": dataset, "lr_g": lr_g, "lr_c": lr_c,
               "critic_steps": critic_steps, "decay": decay, "seconds": budget, "steps": steps,
               "s_per_step": budget / steps, "median": float(nrmse.median()), "q25": float(nrmse.quantile(0.25)),
               "q75": float(nrmse.quantile(0.75)), "wasserstein": logs.get("wasserstein"), "load": load}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def final(runs: Path, data_dir: Path, n_test: int, datasets: tuple[str, ...] = ("mnist", "shapes")) -> list[dict]:
    from bench_training import small_png

    from genprior.data.io import load_images
    from genprior.models import load_model, read_config

    rows = []
    for dataset in datasets:
        run = runs / f"final-{dataset}-gan-{LATENT[dataset]}"
        if not (run / "config.json").exists():
            print(f"skipping {run}: not trained", flush=True)
            continue
        data = data_dir / f"{dataset}.npz"
        model = load_model(run)
        cfg = read_config(run)
        training = cfg["training"]
        start = time.perf_counter()
        nrmse = a1_nrmse(model, load_images(data, "test")[:n_test])
        row = {"row": "final", "dataset": dataset, "run": str(run), "steps": training["steps_done"],
               "planned": training["steps"], "stopped": training.get("stopped"),
               "train_seconds": training["seconds"], "lr": training["lr"], "batch": training["batch_size"],
               "critic_steps": cfg["model"]["critic_steps"], "schedule": training["schedule"],
               "width": cfg["model"].get("width", 16), "critic_width": cfg["model"].get("critic_width", 16),
               "generator_ema": cfg["model"].get("generator_ema", 0.0),
               "generator_output": cfg["model"].get("generator_output", "linear"),
               "max_seconds": training.get("max_seconds"),
               "median": float(nrmse.median()), "q25": float(nrmse.quantile(0.25)),
               "q75": float(nrmse.quantile(0.75)), "n_test": n_test, "a1_seconds": time.perf_counter() - start}
        if dataset == "mnist":
            from genprior.evaluation.digits import default_digit_classifier, digit_sample_quality

            q = digit_sample_quality(model, n=10_000, classifier=default_digit_classifier(log=None))
            row["digits"] = q.to_dict()
        figure = FIGURES / f"samples-{dataset}-gan-{LATENT[dataset]}.png"
        small_png(run / "samples.png", figure)
        row["figure"] = figure.relative_to(ROOT).as_posix()
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def render(rows: list[dict], where: str, notes: dict) -> str:
    lines = [
        "## Compact WGAN-GP: the recipe at an equal time, and the final runs (bench_training_gan)",
        "",
        f"Commands: `.venv/bin/python benchmarks/bench_gan.py recipes`, `... architecture --variant X` (X = A-F) and "
        f"`... final --record`; the section re-rendered from their JSON rows with `... recipes --rows FILE --notes "
        f"FILE --record` ({time.strftime('%Y-%m-%d')})  ",
        f"Machine: {where}",
        "",
    ]
    rec = [r for r in rows if r["row"] == "recipes"]
    if rec:
        lines += [
            "**Recipes at an equal time.** Each variant trains the compact nets (the AE/VAE's encoder with one "
            "output as critic, their decoder as generator; no dropout) for the same wall time on one CPU thread, "
            "batch 50, gradient penalty 10, Adam betas (0, 0.9); then A1 median NRMSE on the first 200 test "
            "images (best of 4 random starts, 200 iterations). The machine was shared with other jobs"
            + (f" (load average {min(r['load'] for r in rec):.1f}-{max(r['load'] for r in rec):.1f} at the starts)"
               if all("load" in r for r in rec) else "")
            + ", so the cost of a step varies between rows.",
            "",
            "| data | variant | lr G / D | critic steps | decay | seconds | generator steps | s/step | "
            "A1 median (25%-75%) |",
            "|---|---|---|---:|---|---:|---:|---:|---:|",
        ]
        for r in rec:
            lines.append(f"| {r['dataset']} | {r['name']} | {r['lr_g']:g} / {r['lr_c']:g} | {r['critic_steps']} | "
                         f"{r['decay']} | {r['seconds']:.0f} | {r['steps']} | {r['s_per_step']:.3f} | "
                         f"**{r['median']:.3f}** ({r['q25']:.3f}-{r['q75']:.3f}) |")
        if notes.get("recipes"):
            lines += ["", notes["recipes"]]
        lines.append("")
    arch = [r for r in rows if r["row"] == "architecture"]
    if arch:
        lines += [
            "**Nets and averaging at an equal time (MNIST, latent 8).** Adam 1e-3, betas (0, 0.9), 2 critic steps, "
            f"batch 50, penalty 10; each variant trains for {arch[0]['seconds']:.0f} s on one thread, three variants "
            "at a time as separate processes (`bench_gan.py architecture --variant X`), on a machine also running "
            "tests, so the steps per second differ by variant and by load. Every run keeps a moving average of "
            "the generator (decay 0.999 after a warm-up) and scores the trained generator and the average: A1 "
            "median NRMSE on the first 200 test images (best of 4 random starts, 200 iterations) and, of 2,000 "
            "samples, the share the digit classifier gives confidence >= 0.9 and the smallest class share.",
            "",
            "| variant | width G / D | lr decay | output | BN in G | steps | A1 trained / averaged | "
            "confident trained / averaged | smallest class |",
            "|---|---|---|---|---|---:|---:|---:|---:|",
        ]
        for r in arch:
            lines.append(f"| {r['name']} | {r['gw']} / {r['cw']} | {r['decay']} | {r.get('output', 'linear')} | "
                         f"{'yes' if r.get('batch_norm') else 'no'} | {r['steps']} | {r['a1_raw']:.3f} / "
                         f"{r['a1_ema']:.3f} | {100 * r['conf_raw']:.1f}% / {100 * r['conf_ema']:.1f}% | "
                         f"{100 * r['min_ema']:.1f}% |")
        if notes.get("architecture"):
            lines += ["", notes["architecture"]]
        lines.append("")
    fin = [r for r in rows if r["row"] == "final"]
    if fin:
        lines += [
            "**Final runs** of `genprior train gan --data DATA.npz --out RUN` (latent 8 MNIST, 10 Shapes; Adam 1e-3, "
            "betas (0, 0.9), 2 critic steps, penalty 10, batch 50, constant rate; the nets and flags of each row "
            "below). A1 on the first N test images (best of 4 random starts, 200 iterations; the tables above used "
            "the same protocol); MNIST samples scored by the project's digit classifier (10,000 samples: share "
            "classified with confidence >= 0.9, target >= 90%; smallest class share, target >= 5%).",
            "",
            "| data | width G / D | output | average | generator steps | training wall time | "
            "A1 median NRMSE (25%-75%) | N | A1 target | confident | smallest class | samples |",
            "|---|---|---|---:|---:|---:|---:|---:|---|---:|---:|---|",
        ]
        for r in fin:
            met = "met" if r["median"] <= TARGET[r["dataset"]] else "**not met**"
            steps = f"{r['steps']}" if r["steps"] == r.get("planned", r["steps"]) else \
                f"{r['steps']} ({r.get('stopped')})"
            d = r.get("digits")
            digits = (f"{100 * d['confident_share']:.1f}% | {100 * d['min_share']:.1f}%" if d else "- | -")
            lines.append(f"| {r['dataset']} (d={LATENT[r['dataset']]}) | {r.get('width', 16)} / "
                         f"{r.get('critic_width', 16)} | {r.get('generator_output', 'linear')} | "
                         f"{r.get('generator_ema', 0.0):g} | {steps} | {r['train_seconds'] / 60:.1f} min | "
                         f"**{r['median']:.3f}** ({r['q25']:.3f}-{r['q75']:.3f}) | {r['n_test']} | "
                         f"<= {TARGET[r['dataset']]:.2f} {met} | {digits} | [grid](../{r['figure']}) |")
        if notes.get("final"):
            lines += ["", notes["final"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("recipes", "architecture", "final"))
    parser.add_argument("--variant", choices=tuple(ARCHITECTURES), help="architecture: which variant to run")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "runs" / "data", help="mnist.npz and shapes.npz")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs", help="final: where final-*-gan-* are")
    parser.add_argument("--seconds", type=float, default=240, help="recipes: training seconds per variant")
    parser.add_argument("--n-test", type=int, default=1000, help="final: test images for A1")
    parser.add_argument("--datasets", default="mnist,shapes", help="final: which runs to evaluate")
    parser.add_argument("--rows", help="JSON lines of earlier runs to render (with the new ones)")
    parser.add_argument("--notes", help="a JSON file {\"recipes\": text, \"final\": text} added to the section")
    parser.add_argument("--record", action="store_true", help="write into benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    where = machine()
    rows = [json.loads(line) for line in Path(args.rows).read_text().splitlines()
            if line.startswith("{")] if args.rows else []
    if args.what == "recipes" and not args.rows:
        rows += recipes(args.data_dir, args.seconds, 200)
    if args.what == "architecture" and args.variant:
        rows.append(architecture(args.variant, args.data_dir, args.seconds))
    if args.what == "final":
        rows += final(args.runs, args.data_dir, args.n_test, tuple(args.datasets.split(",")))
    notes = json.loads(Path(args.notes).read_text()) if args.notes else {}
    section = render(rows, where, notes)
    print(section)
    if args.record:
        record("bench_training_gan", section)


if __name__ == "__main__":
    main()
