"""Stopping rules: relaxed at a binding cap vs run to convergence, TV with and without early stopping.

Run:  .venv/bin/python benchmarks/bench_convergence.py [--model DIR] [--n 20] [--record]

Problem: the demo's (Shapes tomography, 125 x 81, sigma 0.1, the demo's 20 test images
and noise), with the demo's VAE (`demo-output/model`, made by `make demo`) unless
``--model`` names another Shapes generator.  Relaxed starts from the encoder's code with
x0 = G(z0), as in the demo.  The reference objective of each image is the lowest value
any run reached, including a float64 solve (model, operator and data in float64, tol 0,
up to 3000 iterations), so the gap says how far each float32 run stopped from what the
objective allows.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch
from benchlib import machine, record

import genprior  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch loads)

ROOT = Path(__file__).resolve().parent.parent


def problem(args):
    from genprior.data.shapes import shapes_dataset
    from genprior.experiments.demo import DemoSettings
    from genprior.experiments.reconstruction import measure
    from genprior.models.checkpoint import load_model
    from genprior.physics.tomography import Tomography

    s = DemoSettings()
    _, test = shapes_dataset(100, s.n_tune + s.n_test, seed=s.seed)  # the demo's test images
    x = torch.from_numpy(test)[s.n_tune : s.n_tune + args.n]
    physics = Tomography(56)
    y = measure(physics, x, s.noise, seed=s.seed + 2)
    return physics, x, y, load_model(args.model)


def row(name, r, x, seconds, best):
    from genprior.metrics import psnr

    n = len(r)
    gap = ((r.final_objective - best) / best.abs()).clamp_min(0) if best is not None else None
    gap_text = f"{gap.mean():.1e} (max {gap.max():.1e})" if gap is not None else "-"
    score = psnr(r.x.detach().to(x.dtype), x)
    return (f"| {name} | {r.iterations.double().mean():.0f} (max {int(r.iterations.max())}) | "
            f"{r.n_converged}/{n} | {gap_text} | {score.mean():.2f} +- {score.std(unbiased=False):.2f} | "
            f"{seconds / n:.3f} |")


def section_relaxed(args, physics, x, y, G) -> list[str]:
    from genprior.methods import relaxed

    lines = []
    for lam, mu in ((1.6, 0.01), (0.4, 0.01)):
        common = dict(lam=lam, mu=mu, init="encoder", x_init="generator")
        runs = {}
        for name, extra in (("Algorithm 2, cap 200 (the old default)", {"max_iter": 200}),
                            ("Algorithm 2, default stopping rule (cap 3000)", {}),
                            ("u coordinates, default stopping rule", {"coordinates": "u"})):
            t = time.perf_counter()
            runs[name] = (relaxed(physics, y, G, **common, **extra), time.perf_counter() - t)
            print(name, lam, mu, f"{runs[name][1]:.1f} s", flush=True)
        from genprior.physics.tomography import Tomography

        G64, phys64 = copy.deepcopy(G).double(), Tomography(56).double()
        t = time.perf_counter()
        ref = relaxed(phys64, y.double(), G64, **common, tol=0.0, max_iter=3000)
        runs["Algorithm 2 in float64, tol 0 (reference)"] = (ref, time.perf_counter() - t)
        best = torch.stack([r.final_objective for r, _ in runs.values()]).min(0).values
        lines += [f"### relaxed, lam = {lam}, mu = {mu}", "",
                  "| run | iterations mean (max) | converged | objective gap to best (mean, max) | "
                  "PSNR (dB, range 1) | s/image |", "|---|---:|---:|---:|---:|---:|"]
        lines += [row(name, r, x, s, best) for name, (r, s) in runs.items()]
        lines.append("")
    return lines


def section_tv(args, physics, x, y) -> list[str]:
    from genprior.methods import tv

    lines = ["### TV by PDHG, lam = 0.05", "",
             "| run | iterations mean (max) | converged | objective gap to best (mean, max) | "
             "PSNR (dB, range 1) | s/image |", "|---|---:|---:|---:|---:|---:|"]
    runs = {}
    for name, opts in (("fixed 1000 iterations (the old default)", {"max_iter": 1000, "tol": 0.0}),
                       ("early stopping, tol 1e-4 (default)", {}),
                       ("early stopping, tol 1e-5", {"tol": 1e-5}),
                       ("fixed 5000 iterations", {"max_iter": 5000, "tol": 0.0})):
        t = time.perf_counter()
        runs[name] = (tv(physics, y, lam=0.05, **opts), time.perf_counter() - t)
        print(name, f"{runs[name][1]:.1f} s", flush=True)
    best = torch.stack([r.final_objective for r, _ in runs.values()]).min(0).values
    lines += [row(name, r, x, s, best) for name, (r, s) in runs.items()]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "demo-output" / "model"))
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    physics, x, y, G = problem(args)
    started = time.strftime("%Y-%m-%d")
    lines = ["## Stopping rules: run to convergence (bench_convergence)", "",
             f"Command: `.venv/bin/python benchmarks/bench_convergence.py --record` ({started})  ",
             f"Machine: {machine()}", "",
             f"The demo's problem: Shapes tomography (125 x 81, sigma 0.1), the demo's {args.n} test images and "
             f"noise, generator `{args.model}` (the demo's compact VAE). Relaxed starts from the encoder's code, "
             "x0 = G(z0). Gap: (F - best) / best per image, best = the lowest objective any run reached (for relaxed "
             "including a float64 solve with tol 0). 'converged': images whose stopping rule fired before the cap.",
             ""]
    lines += section_relaxed(args, physics, x, y, G)
    lines += section_tv(args, physics, x, y)
    text = "\n".join(lines)
    print(text)
    if args.record:
        record("bench_convergence", text)


if __name__ == "__main__":
    main()
