"""Cost and accuracy of the data proximal step ``prox_l2`` of every operator at the paper's sizes.

Run:  .venv/bin/python benchmarks/bench_prox.py [--record]

``prox_l2(z, y, gamma) = argmin_x (gamma/2) ||A x - y||^2 + (1/2) ||x - z||^2`` on a batch
of 100 float32 images (MNIST test images at 28x28, Shapes at 56x56), with
``y = A x_true + sigma noise`` (sigma 0.05 at 28, 0.1 at 56) and ``z = x_true + 0.1 noise``
(what a denoiser hands the data step).  For each problem and gamma: milliseconds per
image (minimum over rounds of the median of repeats), CG iterations per image (mean and
max; ``-`` for closed forms) at the default tolerance, and the largest relative error
``||x - x*|| / ||x*||`` against a dense float64 solve of ``(I + gamma A^T A) x = z + gamma A^T y``
(one eigendecomposition of ``A^T A`` per operator).  A second table sweeps the CG
tolerance on the blur and tomography; a third compares the per-image compaction of CG
with applying ``A`` to the whole batch, and CS's closed form with CG.  ``--record``
writes the tables into ``benchmarks/RESULTS.md`` between ``<!-- bench_prox -->`` markers.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import time

from benchlib import machine, median_ms, record

import torch

from genprior.physics import make_operator
from genprior.physics.linear_solve import CG_MAX_ITER, CG_TOL, prox_l2_cg

BATCH = 100
ROUNDS = 2
GAMMAS = (1.0, 10.0, 100.0, 1000.0)
CASES = [  # (label, problem, image_size, options, sigma)
    ("cs 28 (m = 150, MNIST)", "cs", 28, {}, 0.05),
    ("deconvolution 28 (5x5, sd 1, MNIST)", "deconvolution", 28, {}, 0.05),
    ("inpainting 28 (keep 0.25, MNIST)", "inpainting", 28, {}, 0.05),
    ("denoising 28 (MNIST)", "denoising", 28, {}, 0.05),
    ("tomography 56 (125 x 81, Shapes)", "tomography", 56, {}, 0.1),
    ("limited-angle 56 (0-120 deg, Shapes)", "limited-angle", 56, {}, 0.1),
]
NOTES = (
    "The closed forms (CS through its cached float64 SVD, inpainting and denoising elementwise) agree with the "
    "dense solve to float32 rounding at every gamma. CG's error grows with gamma at a fixed tolerance, because "
    "the residual is relative to `||z + gamma A^T y||`: the default `tol = 1e-5` keeps it near 1e-3 of the "
    "image's norm or below up to gamma = 1000 (about 120 iterations on the blur, 90 on tomography), where "
    "`1e-4` would leave about 1e-2 for a quarter fewer iterations. The cap of 200 binds only beyond gamma = 1000 "
    "(the blur at 1e4). Stopping per image, and multiplying only the unfinished images, is what makes a batch "
    "with spread gammas cost its mean iteration count rather than its maximum (the variant above)."
)
SWEEP = ("deconvolution 28 (5x5, sd 1, MNIST)", "tomography 56 (125 x 81, Shapes)")


def images(n: int) -> torch.Tensor:
    if n == 28:
        from genprior.data.mnist import mnist_dataset

        return torch.from_numpy(mnist_dataset().test[:BATCH]).float()
    from genprior.data.shapes import make_shapes

    return torch.from_numpy(make_shapes(BATCH, seed=1, image_size=n)).float().reshape(BATCH, 1, n, n)


class Dense:
    """``(I + gamma A^T A)^{-1} b`` from one float64 eigendecomposition of ``A^T A``.

    The matrix is the float32 operator's, applied to the unit basis; ``A^T y`` is formed
    in float64 from it (a float32 ``A^T y`` errs by about 1e-7 outside the range of
    ``A^T``, where ``I + gamma A^T A`` does not damp it, so that error grows with gamma).
    """

    def __init__(self, op) -> None:
        n = math.prod(op.in_shape)
        basis = torch.eye(n).reshape(n, *op.in_shape)
        with torch.no_grad():
            self.m = op.A(basis).reshape(n, -1).T.double()
        self.eig, self.q = torch.linalg.eigh(self.m.T @ self.m)

    def error(self, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor, gamma: torch.Tensor) -> float:
        aty = y.double().reshape(len(y), -1) @ self.m
        b = z.double().reshape(len(z), -1) + gamma.double()[:, None] * aty
        ref = ((b @ self.q) / (1.0 + gamma.double()[:, None] * self.eig)) @ self.q.T
        return float(((x.double().reshape(len(x), -1) - ref).norm(dim=1) / ref.norm(dim=1)).max())


def setup(problem: str, n: int, options: dict, sigma: float):
    op = make_operator(problem, n, **options)
    truth = images(n)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        y = op.A(truth) + sigma * torch.randn(BATCH, *op.out_shape, generator=g)
        z = truth + 0.1 * torch.randn(truth.shape, generator=g)
    return op, z, y


def timed(fn) -> float:
    probe = median_ms(fn, 1, warmup=1)
    repeats = int(min(20, max(3, 2000 / max(probe, 1e-3))))
    return min(median_ms(fn, repeats, warmup=1) for _ in range(ROUNDS))


def gammas(value: float | None) -> torch.Tensor:
    """One gamma for the batch, or (``None``) per-image gammas log-uniform on [1, 1000]."""
    if value is not None:
        return torch.full((BATCH,), value)
    return torch.logspace(0, 3, BATCH)[torch.randperm(BATCH, generator=torch.Generator().manual_seed(2))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write the tables into benchmarks/RESULTS.md")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default torch's; 1 keeps a loaded machine's timings steadier)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    info = machine()
    print(info, flush=True)
    main_rows = ["| problem | gamma | ms/image | CG iterations mean / max | converged | max rel. error vs dense |",
                 "|---|---|---:|---:|---:|---:|"]
    sweep_rows = ["| problem | gamma | tol | CG iterations mean / max | max rel. error vs dense |",
                  "|---|---:|---:|---:|---:|"]
    extra_rows = ["| variant | ms/image | CG iterations mean / max |", "|---|---:|---:|"]
    for label, problem, n, options, sigma in CASES:
        start = time.perf_counter()
        op, z, y = setup(problem, n, options, sigma)
        dense = Dense(op)
        print(f"{label}: dense reference in {time.perf_counter() - start:.1f} s", flush=True)
        for value in (*GAMMAS, None):
            g = gammas(value)
            x = op.prox_l2(z, y, g)
            ms = timed(lambda: op.prox_l2(z, y, g)) / BATCH
            if op.closed_form_prox:
                its, conv = "- (closed form)", "-"
            else:
                r = prox_l2_cg(op, z, y, g)
                its = f"{r.iterations.float().mean():.1f} / {int(r.iterations.max())}"
                conv = f"{int(r.converged.sum())}/{BATCH}"
            name = f"{value:g}" if value is not None else "per image, 1..1000"
            row = f"| {label} | {name} | {ms:.4f} | {its} | {conv} | {dense.error(x, z, y, g):.1e} |"
            main_rows.append(row)
            print(row, flush=True)
        if label in SWEEP:
            for value in (10.0, 100.0, 1000.0, 10000.0):
                g = gammas(value)
                for tol in (1e-3, 1e-4, 1e-5, 1e-6):
                    r = prox_l2_cg(op, z, y, g, tol=tol)
                    row = (f"| {label} | {value:g} | {tol:g} | {r.iterations.float().mean():.1f} / "
                           f"{int(r.iterations.max())} | {dense.error(r.x, z, y, g):.1e} |")
                    sweep_rows.append(row)
                    print(row, flush=True)
        if problem in ("tomography", "cs"):
            g = gammas(None)
            r = prox_l2_cg(op, z, y, g)
            its = f"{r.iterations.float().mean():.1f} / {int(r.iterations.max())}"
            variants = [("CG, whole batch each iteration (compact=False)",
                         lambda: prox_l2_cg(op, z, y, g, compact=False))]
            if problem == "cs":
                variants = [("CG (the base-class default) instead of the closed form", lambda: prox_l2_cg(op, z, y, g))]
            for name, fn in variants:
                row = f"| {label}, per-image gamma 1..1000: {name} | {timed(fn) / BATCH:.4f} | {its} |"
                extra_rows.append(row)
                print(row, flush=True)
    end_load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    section = "\n".join([
        "## Data proximal step prox_l2 of every operator (bench_prox)",
        "",
        f"Command: `.venv/bin/python benchmarks/bench_prox.py --record"
        f"{f' --threads {args.threads}' if args.threads else ''}` ({datetime.date.today()})  ",
        f"Machine: {info}; load average at end {end_load}. The 2 cores were shared with other sessions' work "
        "(see the load averages), so the times are upper bounds.",
        "",
        f"Batch of {BATCH} float32 images (MNIST test at 28x28, Shapes at 56x56); `y = A x + sigma e` (sigma 0.05 "
        "at 28, 0.1 at 56), `z = x + 0.1 e'`. Default CG settings: `tol = "
        f"{CG_TOL:g}` (relative residual), `max_iter = {CG_MAX_ITER}`, warm start at `z`. Error: the largest "
        "`||x - x*|| / ||x*||` over the batch against a dense float64 solve. Times: minimum over "
        f"{ROUNDS} rounds of the median of repeats, per image.",
        "",
        *main_rows,
        "",
        "CG tolerance (float32, same images):",
        "",
        *sweep_rows,
        "",
        "Variants (same run):",
        "",
        *extra_rows,
        "",
        NOTES,
    ])
    if args.record:
        print(f"recorded in {record('bench_prox', section)}")


if __name__ == "__main__":
    main()
