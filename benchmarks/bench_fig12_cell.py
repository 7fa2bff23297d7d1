"""The CPU cost of Figure 12 on the paper-architecture knee VAE: one small cell measured, the full run extrapolated.

Run:  .venv/bin/python benchmarks/bench_fig12_cell.py [--model DIR | --train-steps 20] [--n 2] [--iterations 30]
      [--preset paper|compact] [--images 50] [--record]

One noise level (sigma 0.05), one point of the parameters (lam at the start grid's centre
of ``genprior paper fig12``, mu 0.01) and ``--n`` 128x128 ellipse images: each column of
Figure 12 (Tikhonov, hard, relaxed, sparse from random codes; hard and relaxed from the
encoder) is solved with the experiment's options (the paper's backtracking solvers,
relaxed in u coordinates) for ``--iterations`` iterations (tolerance 0; a solve whose objective stops falling
stops earlier, and the seconds are divided by the iterations the batch ran), with the
VAE of Figure B4 (latent 800; trained for ``--train-steps`` steps unless ``--model`` names
a checkpoint: an untrained decoder's ReLU output is about 0 and its solves stall; the cost
of a network evaluation does not depend on the weights, the backtracking tries per
iteration do).
The seconds per iteration and image, times the solves and iterations a full run needs,
give the extrapolation (see ``extrapolate``) to ``--images`` images per cell (the experiment's 50 by
default).  Also the decoder alone: one forward and backward pass on ``--n`` codes and on 50.
``--preset compact`` measures the same with the compact preset's 128x128 VAE (latent 800):
what a CPU variant of the figure on a smaller prior would cost (recorded in its own section).
"""

from __future__ import annotations

import argparse
import time

import torch
from benchlib import machine, record

import genprior  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch loads)

# Published Figure 12 (compact VAE, docs/paper/fig12/result.json): mean iterations of the solves at the chosen lam
# over the 50 images, by method, over its five noise levels; used as the "typical" iteration count.
PUBLISHED_MEAN_ITERATIONS = {"tikhonov": 43, "hard": 607, "relaxed": 149, "sparse": 343}
# Single-image solves per image and cell: the published 1-D cells took 3.0 to 4.7 (mean 3.6); a 2-D start is 3 x 3 = 9
# points and each step past an end adds 3 (assumed: one step on average).
SOLVES_PER_IMAGE = {"tikhonov": 3.6, "hard": 3.6, "relaxed": 12.0, "sparse": 12.0}


def solve_seconds(physics, y, G, column: str, iterations: int) -> float:
    from genprior.choice.tuning import solve_grid
    from genprior.experiments.paper.noise_sweep import MU_START, START
    from genprior.experiments.paper.protocol import Protocol

    method = column.split("-")[0]
    options = Protocol().solver_options(method)
    options.update(max_iter=iterations, tol=0.0)
    if column.endswith("-encoder"):
        options["init"] = "encoder"
    point = {"lam": START[method], **({"mu": MU_START[method]} if method in MU_START else {})}
    start = time.perf_counter()
    sol = solve_grid(physics, y, method, [point], G if method != "tikhonov" else None, **options)
    seconds = time.perf_counter() - start
    return seconds, int(sol.iterations.max())  # the batch iterates until its last image stops


def decoder_seconds(G, batch: int) -> float:
    z = torch.randn(batch, G.latent_dim, requires_grad=True)
    start = time.perf_counter()
    G(z).square().sum().backward()
    return time.perf_counter() - start


def extrapolate(per_iteration: dict[str, float], cap: int, n_images: int, levels: int) -> dict[str, float]:
    """Hours of the full run: per column, ``levels x n_images x solves per image x iterations x
    seconds per iteration and image``, with the published mean iterations ("typical") and with
    every solve at the cap ("at the cap")."""
    typical = at_cap = 0.0
    for column, seconds in per_iteration.items():
        method = column.split("-")[0]
        solves = levels * n_images * SOLVES_PER_IMAGE[method]
        typical += solves * min(PUBLISHED_MEAN_ITERATIONS[method], cap) * seconds
        at_cap += solves * cap * seconds
    return {"typical": typical / 3600, "at_cap": at_cap / 3600}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a 128x128 knee VAE checkpoint (default: train one briefly)")
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--preset", choices=("paper", "compact"), default="paper",
                        help="the VAE's architecture: Figure B4 (paper) or the compact preset")
    parser.add_argument("--images", type=int, default=None, help="images per cell in the extrapolation "
                        "(default: the experiment's N_IMAGES)")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    from genprior.data.ellipses import ellipses_dataset
    from genprior.experiments.paper.noise_sweep import CAP, N_IMAGES, NOISES, columns
    from genprior.experiments.reconstruction import measure
    from genprior.models.architectures import count_parameters
    from genprior.models.checkpoint import load_model
    from genprior.physics.problems import make_operator
    from genprior.training.recipes import recipe_configs

    started = time.strftime("%Y-%m-%d %H:%M")
    where = machine()
    train_images, test = ellipses_dataset(32 * args.train_steps, args.n, seed=0, size=128)
    trained = f"checkpoint {args.model}"
    if args.model:
        G = load_model(args.model, "cpu")
    else:  # an untrained decoder's ReLU output is about 0 and its solves stall: train it briefly
        import tempfile

        from genprior.training.loop import train

        G, config = recipe_configs("vae", "knee", args.preset, 128, 800, steps=args.train_steps)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as out:
            train(G, torch.from_numpy(train_images), out, config, progress=False)
        trained = f"trained {args.train_steps} steps ({time.perf_counter() - start:.0f} s)"
    G.eval()
    truth = torch.from_numpy(test)
    physics = make_operator("tomography", 128)
    y = measure(physics, truth, 0.05, seed=0)
    solve_seconds(physics, y, G, "tikhonov", 2)  # warm-up: the operator's norm and caches
    decoder = {b: decoder_seconds(G, b) for b in (args.n, 50)}
    per_iteration, ran_for = {}, {}
    for column in columns():
        seconds, ran = solve_seconds(physics, y, G, column, args.iterations)
        per_iteration[column] = seconds / (ran * args.n)
        ran_for[column] = (seconds, ran)
        print(f"{column}: {seconds:.1f} s for {ran} iterations on {args.n} images "
              f"({per_iteration[column]:.3f} s per iteration and image)", flush=True)
    n_images = args.images or N_IMAGES
    hours = extrapolate(per_iteration, CAP, n_images, len(NOISES))
    batch = (decoder[50] / 50) / (decoder[args.n] / args.n)  # a decoder pass's cost per code at batch 50 vs --n
    rows = "\n".join(f"| {c} | {s:.3f} | {ran_for[c][1]} | {ran_for[c][0]:.1f} |" for c, s in per_iteration.items())
    name = "bench_fig12_cell" + ("" if args.preset == "paper" else f"_{args.preset}")
    prior = "the paper-architecture knee VAE" if args.preset == "paper" else f"a {args.preset}-preset 128x128 VAE"
    architecture = "Figure B4's VAE" if args.preset == "paper" else f"The {args.preset} preset's VAE"
    options = "" if args.preset == "paper" else f" --preset {args.preset}"
    options += f" --images {args.images}" if args.images else ""
    text = "\n".join([
        f"## Figure 12 on {prior}: one small cell, the full run extrapolated ({name})",
        "", f"Command: `/work/notes/heavy .venv/bin/python benchmarks/bench_fig12_cell.py --n {args.n} --iterations "
            f"{args.iterations} --train-steps {args.train_steps}{options} --record` ({started})  ", f"Machine: {where}", "",
        f"{architecture} (latent 800; encoder {count_parameters(G.encoder):,}, decoder {count_parameters(G.decoder):,} "
        f"parameters; {trained}), 128x128 tomography, sigma "
        f"0.05, {args.n} ellipse images, one parameter point per column, up to {args.iterations} iterations (the "
        "experiment's solvers: backtracking, relaxed in u). Decoder alone, one forward and backward pass: "
        f"{decoder[args.n]:.2f} s on {args.n} codes, {decoder[50]:.2f} s on 50.", "",
        "| column | s per iteration and image | iterations | s for the solve |", "|---|---:|---:|---:|", rows, "",
        f"Extrapolation to the full run ({len(NOISES)} noise levels x {n_images} images x {len(per_iteration)} columns; "
        f"solves per image {SOLVES_PER_IMAGE}; seconds per iteration and image as measured at batch {args.n}, "
        "whereas the run solves 50 to 150 problems per batch): "
        f"**{hours['typical']:,.0f} hours** with the published run's mean iterations per solve "
        f"{PUBLISHED_MEAN_ITERATIONS}, **{hours['at_cap']:,.0f} hours** if every solve ran to the cap of {CAP:,}. "
        f"Scaled by the decoder's cost per code at batch 50 against batch {args.n} ({batch:.3f}): "
        f"**{hours['typical'] * batch:,.0f} hours** typical, **{hours['at_cap'] * batch:,.0f} hours** at the cap. "
        "Not included: training the prior and its report card.",
    ])
    print(text)
    if args.record:
        record(name, text)


if __name__ == "__main__":
    main()
