"""Training with the convolution weights stored channels-last against the default layout, side by side.

Run:  .venv/bin/python benchmarks/bench_training_layout.py [--rounds 2] [--threads N] [--record]

``genprior.training.loop.train`` stores the 4-D weights of genprior's models channels-last
while it trains on the CPU in one process (``channels_last=True``, the default;
:mod:`genprior.models.layout`).  This runs the real training loop (Adam, the recipe's batch
size, checkpoints and the loss log; no sample grids) of each recipe's model on random
images of its size, ``channels_last`` on and off, in one process, interleaved over
``--rounds`` rounds, from the same seed; seconds per step are the fastest round's (the first
steps of a run are untimed: a run's warm-up is the same in both layouts).  The two final
models hold the same maths, so their weights differ only by the kernels' summation order:
the largest difference is printed beside the times.  The denoiser's class opts out of the
layout (``Denoiser.train_channels_last = False``, from its row here); this forces it on.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from benchlib import machine, record

import genprior  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch loads)

# (kind, recipe data set, preset, image size, latent size, timed steps)
MODELS = (("vae", "shapes", "compact", 56, 10, 60), ("ae", "shapes", "compact", 56, 10, 60),
          ("gan", "shapes", "compact", 56, 10, 20), ("vae", "mnist", "compact", 28, 8, 100),
          ("denoiser", "shapes", "compact", 56, None, 20), ("vae", "knee", "compact", 128, 800, 8),
          ("vae", "knee", "paper", 128, 800, 3))
WARMUP = 2  # untimed steps at the start of each run
NOTE = ("The GAN's and the denoiser's classes keep the default layout in training (`train_channels_last = False`: "
        "no gain and a loss in these rows); the paper's published models were trained in the default layout and are "
        "loaded, not retrained, so no published number moves.")


def run(kind, dataset, preset, size, latent, steps, layout: bool, out: Path) -> tuple[float, torch.Tensor]:
    """Seconds per step of ``steps`` steps after ``WARMUP`` (one run of ``WARMUP + steps``), and the final weights."""
    from genprior.training.loop import train
    from genprior.training.recipes import recipe_configs

    model, config = recipe_configs(kind, dataset, preset, size, latent, steps=WARMUP + steps, log_every=1,
                                   sample_every=None, checkpoint_every=10**9)
    model.train_channels_last = True  # measured for every model, the denoiser too (its class opts out)
    images = torch.rand(max(256, 2 * config.batch_size), 1, size, size, generator=torch.Generator().manual_seed(0))
    history = train(model, images, out, config, progress=False, channels_last=layout)
    seconds = (history[-1]["seconds"] - history[WARMUP - 1]["seconds"]) / steps
    return seconds, torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    started, where = time.strftime("%Y-%m-%d %H:%M"), machine()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, dataset, preset, size, latent, steps in MODELS:
            best = {True: float("inf"), False: float("inf")}
            weights = {}
            for r in range(args.rounds):
                for layout in (False, True):
                    out = Path(tmp) / f"{kind}-{dataset}-{preset}-{layout}-{r}"
                    s, weights[layout] = run(kind, dataset, preset, size, latent, steps, layout, out)
                    best[layout] = min(best[layout], s)
            diff = float((weights[True] - weights[False]).abs().max())
            name = f"{kind.upper()} {dataset} {size}x{size}" + (f", latent {latent}" if latent else "") + f", {preset}"
            rows.append(f"| {name} | {steps} | {1e3 * best[False]:.1f} | {1e3 * best[True]:.1f} | "
                        f"{best[False] / best[True]:.2f} | {diff:.1e} |")
            print(rows[-1], flush=True)
    text = "\n".join([
        "## Training: channels-last weights against the default layout (bench_training_layout)", "",
        f"Command: `.venv/bin/python benchmarks/bench_training_layout.py --rounds {args.rounds}"
        f"{f' --threads {args.threads}' if args.threads else ''} --record` ({started})  ",
        f"Machine: {where}", "",
        "The real training loop (`genprior.training.loop.train`: the recipe's optimiser and batch size, checkpoints, "
        f"loss log; no sample grids) on random images, `channels_last` off and on, one process, interleaved over "
        f"{args.rounds} rounds from the same seed; milliseconds per step, the fastest round's, after {WARMUP} untimed "
        "steps. Weight difference: the largest absolute difference between the two final models (the same maths, "
        "another summation order in the kernels).", "",
        "| model (recipe) | timed steps | default ms/step | channels-last ms/step | speed-up | weight difference |",
        "|---|---:|---:|---:|---:|---:|", *rows, "", NOTE])
    print(text)
    if args.record:
        record("bench_training_layout", text)


if __name__ == "__main__":
    main()
