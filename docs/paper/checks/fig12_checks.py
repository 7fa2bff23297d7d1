"""Two checks of Figure 12's published cells (`genprior paper fig12`), run by hand, outputs beside this file.

``cap SIGMA N``: hard stops at its 1000-iteration cap at low noise.  Re-solve the first N images at
the lam the cell chose, from the same random codes, with the cap of 1000 and with 5000.

``mu SIGMA N MUS``: relaxed holds mu = 0.1.  Choose lam per image (the cell's oracle, same noise,
same random codes, same starting grid) on the first N images for each mu in MUS (comma list).
mu = 0.1 must give the published per-image PSNRs.

    python docs/paper/checks/fig12_checks.py cap 0.05 8
    python docs/paper/checks/fig12_checks.py mu 0.1 10 0.01,0.001,0.1
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from genprior.choice.oracle import oracle_lam
from genprior.experiments.paper.assets import Assets
from genprior.experiments.paper.noise_sweep import LATENT, MU, N_IMAGES
from genprior.experiments.paper.protocol import Protocol
from genprior.experiments.reconstruction import measure
from genprior.methods import get_method
from genprior.methods.inputs import materialise_inputs, slice_inputs
from genprior.metrics import psnr
from genprior.physics.problems import make_operator


def problem(root: Path, sigma: float, method: str):
    """fig12's operator, truth, data, generator and solver options, and its starting values for ``method``."""
    assets = Assets(root, log=lambda _: None)
    truth = assets.data("ellipses")["test"][:N_IMAGES]
    physics = make_operator("tomography", int(truth.shape[-1]))
    G = assets.model("ellipses", "vae", LATENT)
    y = measure(physics, truth, sigma, seed=0)
    options = Protocol().solver_options(method)
    held = {"mu": MU} if method == "relaxed" else {}
    inputs = materialise_inputs(method, physics, y, G, {**options, **held, "lam": 1.0})  # codes drawn for all images
    return physics, truth, y, G, options, {k: v for k, v in inputs.items() if k not in ("lam", "mu")}


def cell(root: Path, method: str, sigma: float) -> dict:
    return json.loads((root / "fig12" / "parts" / f"{method}-sigma{sigma:g}.json").read_text())


def cap(root: Path, sigma: float, n: int) -> None:
    physics, truth, y, G, options, inputs = problem(root, sigma, "hard")
    index = torch.arange(n)
    published = cell(root, "hard", sigma)
    lam = torch.tensor(published["lam"][:n], dtype=y.dtype)
    for max_iter in (1000, 5000):
        started = time.perf_counter()
        r = get_method("hard").function(physics, y[index], generator=G, lam=lam, max_iter=max_iter,
                                        **slice_inputs(inputs, index, N_IMAGES))
        p = psnr(r.x.detach().to(truth.dtype), truth[index]).double()
        print(f"cap {max_iter}: mean PSNR {p.mean():.3f} per image {[round(v, 2) for v in p.tolist()]} converged "
              f"{int(r.converged.sum())}/{n} iterations {r.iterations.tolist()} "
              f"{time.perf_counter() - started:.0f} s", flush=True)
    print("published:", [round(v, 2) for v in published["psnr"][:n]])


def mu(root: Path, sigma: float, n: int, mus: list[float]) -> None:
    physics, truth, y, G, options, inputs = problem(root, sigma, "relaxed")
    index = torch.arange(n)
    published, hard = cell(root, "relaxed", sigma), cell(root, "hard", sigma)
    print(f"sigma {sigma:g}, first {n} images: published relaxed (mu 0.1) mean "
          f"{torch.tensor(published['psnr'][:n]).mean():.3f} dB, hard {torch.tensor(hard['psnr'][:n]).mean():.3f} dB",
          flush=True)
    fixed = {**options, **slice_inputs(inputs, index, N_IMAGES)}
    for m in mus:
        started = time.perf_counter()
        out = oracle_lam(physics, y[index], truth[index], "relaxed", published["start_grid"], G, 4, {"mu": m}, **fixed)
        print(f"mu {m:g}: mean {out.psnr.mean():.3f} per image {[round(v, 2) for v in out.psnr.tolist()]} lam median "
              f"{out.lam.median():.3g} converged {int(out.converged.sum())}/{n} edge {int(out.on_edge.sum())} "
              f"solves {out.solves} {time.perf_counter() - started:.0f} s", flush=True)
    print("published relaxed (mu 0.1):", [round(v, 2) for v in published["psnr"][:n]])
    print("published hard:", [round(v, 2) for v in hard["psnr"][:n]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs/paper"), help="the paper run directory")
    sub = parser.add_subparsers(dest="check", required=True)
    c = sub.add_parser("cap")
    m = sub.add_parser("mu")
    for p in (c, m):
        p.add_argument("sigma", type=float)
        p.add_argument("n", type=int)
    m.add_argument("mus", type=lambda s: [float(v) for v in s.split(",")])
    args = parser.parse_args()
    if args.check == "cap":
        cap(args.out, args.sigma, args.n)
    else:
        mu(args.out, args.sigma, args.n, args.mus)


if __name__ == "__main__":
    main()
