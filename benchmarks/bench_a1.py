"""Criterion A1 (range coverage) by the paper's backtracking against L-BFGS, Gauss-Newton and pruned
multi-start, same protocol.

Run:  .venv/bin/python benchmarks/bench_a1.py [--n 100] [--solvers backtracking,lbfgs,lbfgs:30:2] [--record]

Problem: the paper experiments' A1 (:func:`genprior.evaluation.coverage.range_coverage`)
on the first ``--n`` images of the Shapes test set of the paper run (``shapes_dataset(60000,
10000, seed=0)``'s test split; it does not depend on the training size), for the published
Shapes GAN and VAE of latent size 10 (docs/paper/models).  The protocol is the paper
experiments' (figures 1-6): the GAN from the best of 4 random starts ``z ~ N(0, I)``
(seed 0; the starts of all images solved as one batch, each stopping on its own), the VAE
from its encoder's code; the stopping rule of every solver (tol 1e-7 over 10 iterations),
cap 1,000 iterations.  Only the solver differs: ``backtracking`` (Algorithm 1, what the
paper experiments run) or ``lbfgs`` (the same objective, the same starts and stopping
rule).  A solver entry ``NAME:AFTER:KEEP`` (``lbfgs:30:2``) prunes the random starts: after
``AFTER`` iterations only each image's ``KEEP`` starts of lowest objective go on
(``range_coverage(prune_after=, prune_keep=)``).  Each solver is warmed up on two images
(5 iterations), then timed once, in one process, ``--threads`` torch threads.
``objective`` is the final ``||G(z*) - x||^2`` of the kept start; ``<= old``: the fraction
of images where the solver's objective is at most the first solver's (backtracking's)
plus ``1e-6`` relative; ``<= unpruned``: the same against the run of the same solver
without pruning (if it is in the list).  ``--record`` writes section ``bench_a1`` for
both models, ``bench_a1_<model>`` for one (so a GAN-only run keeps the VAE's rows).
"""

from __future__ import annotations

import argparse
import time

import torch
from benchlib import machine, record, timed

import genprior  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch loads)

MODELS = {"GAN": "docs/paper/models/shapes-gan-10-compact-861eda58",
          "VAE": "docs/paper/models/shapes-vae-10-compact-2b7b3649"}
PAPER_TEST_SIZE = 10_000  # the Shapes test split of the paper run (experiments/paper/assets.py)


def test_images(n: int) -> torch.Tensor:
    from genprior.data.shapes import shapes_dataset

    _, test = shapes_dataset(0, PAPER_TEST_SIZE, seed=0)  # the test stream does not depend on the train size
    return torch.from_numpy(test[:n])


def parse_solver(entry: str) -> tuple[str, dict]:
    """``"lbfgs"`` -> ``("lbfgs", {})``; ``"lbfgs:30:2"`` -> ``("lbfgs", {"prune_after": 30, "prune_keep": 2})``."""
    name, *rest = entry.split(":")
    if len(rest) > 2:
        raise SystemExit(f"solver entry {entry!r}: NAME or NAME:AFTER[:KEEP]")
    opts = {"prune_after": int(rest[0])} if rest else {}
    if len(rest) == 2:
        opts["prune_keep"] = int(rest[1])
    return name, opts


def compare(label: str, path: str, x: torch.Tensor, solvers: list[str]) -> list[str]:
    from genprior.evaluation.coverage import range_coverage
    from genprior.models.checkpoint import load_model

    G = load_model(path)
    protocol = dict(restarts=4, seed=0, max_iter=1000, batch_size=1000)
    for entry in solvers:
        name, opts = parse_solver(entry)
        range_coverage(G, x[:2], **{**protocol, "max_iter": 5}, solver=name, **opts)  # warm-up
    runs = {}
    for entry in solvers:
        name, opts = parse_solver(entry)
        runs[entry] = timed(lambda n=name, o=opts: range_coverage(G, x, **protocol, solver=n, **o))
        r, wall, cpu = runs[entry]
        print(f"{label} | {entry}: {wall:.1f} s wall, {cpu:.1f} s CPU, objective {r['objective'].mean():.5g}",
              flush=True)
    old, old_wall, old_cpu = runs[solvers[0]]
    n = x.shape[0]

    def share(r: dict, ref: dict) -> str:
        return f"{(r['objective'] <= ref['objective'] * (1 + 1e-6)).double().mean():.2f}"

    lines = []
    for entry, (r, wall, cpu) in runs.items():
        name, opts = parse_solver(entry)
        pruned = "prune_after" in opts and r["summary"]["init"] == "random"
        shown = f"{name}, pruned after {opts['prune_after']} to {opts.get('prune_keep', 1)}" if pruned else name
        unpruned = runs.get(name, (None,))[0] if pruned else None
        lines.append(
            f"| {label} | {shown} | {r['summary']['init']} | {wall:.1f} ({cpu:.1f}) | {old_wall / wall:.2f} "
            f"({old_cpu / cpu:.2f}) | {r['iterations'].double().mean():.0f} ({int(r['iterations'].max())}) | "
            f"{round(r['summary']['converged_fraction'] * n)}/{n} | {r['objective'].mean():.5g} | "
            f"{r['summary']['nrmse']['median']:.4f} | {share(r, old)} | "
            f"{share(r, unpruned) if unpruned is not None else '-'} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="test images (the first of the paper's Shapes test set)")
    parser.add_argument("--models", default="GAN,VAE", help="which of " + ", ".join(MODELS))
    parser.add_argument("--solvers", default="backtracking,lbfgs",
                        help="NAME or NAME:AFTER:KEEP (pruned starts), comma-separated; the first is the reference")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    where = machine()
    x = test_images(args.n)
    solvers = args.solvers.split(",")
    models = args.models.split(",")
    section = "bench_a1" if len(models) > 1 else f"bench_a1_{models[0].lower()}"
    lines = [f"## Criterion A1: the solvers of the fits at the paper's protocol, {', '.join(models)} ({section})", "",
             f"Command: `.venv/bin/python benchmarks/bench_a1.py --n {args.n} --models {args.models} --solvers "
             f"{args.solvers} --threads {args.threads} --record` ({time.strftime('%Y-%m-%d')})  ",
             f"Machine: {where}", "",
             f"The first {args.n} images of the paper run's Shapes test set; the published Shapes generators of "
             "latent size 10. The protocol of the paper experiments' A1: GAN best of 4 random starts (seed 0, all "
             "starts of the images one batch, the lowest final objective kept per image), VAE from the encoder; "
             "stopping rule tol 1e-7 over 10 iterations, cap 1,000. Seconds: one timed run after a warm-up, wall "
             f"(CPU of this process); ratio: {solvers[0]}'s seconds over the solver's. Iterations: of the kept "
             f"start, mean (max). Objective: mean final ||G(z*) - x||^2. `<= old`: share of images whose "
             f"objective is at most {solvers[0]}'s + 1e-6 relative; `<= unpruned`: the same against the solver's run "
             "without pruning (`NAME:AFTER:KEEP`: after AFTER iterations only each image's KEEP starts of lowest "
             "objective go on).", "",
             "| model | solver | start | seconds wall (CPU) | ratio wall (CPU) | iterations | converged | objective "
             "| median NRMSE | <= old | <= unpruned |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label in models:
        rows = compare(label, MODELS[label], x, solvers)
        print("\n".join(rows), flush=True)
        lines += rows
    text = "\n".join(lines)
    print(text)
    if args.record:
        record(section, text)


if __name__ == "__main__":
    main()
