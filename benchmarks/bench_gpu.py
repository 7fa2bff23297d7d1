"""GPU check and timings: every operator, method and training preset on CUDA.

Run (on a machine with a GPU):  python benchmarks/bench_gpu.py --out gpu.md [--quick]
Record (here, from the file it wrote):  .venv/bin/python benchmarks/bench_gpu.py --record-from gpu.md

The same code paths as on the CPU, moved with ``.to("cuda")``: each operator is compared
with its CPU result, each method's PSNR on CUDA with the same solve on the CPU of the
same machine (same measurements and starts), and the training loop is timed in float32
and with bfloat16 autocast, including the paper's Shapes preset (629M weights), which
does not fit the 2-core CPU machine's time budget.  Needs ``runs/data/{mnist,shapes}.npz``
and ``runs/{mnist-vae-8,shapes-vae-10}`` (carried to the GPU machine).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
import traceback
from pathlib import Path

import genprior  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch loads)
import torch

ROOT = Path(__file__).resolve().parent.parent
RUNS = Path(os.environ.get("GENPRIOR_RUNS", ROOT / "runs"))  # trained models and data
# BENCH_GPU_DEVICE=cpu runs the same script on the CPU (a dry run of its code paths).
CUDA = torch.device(os.environ.get("BENCH_GPU_DEVICE", "cuda"))


def sync() -> None:
    if CUDA.type == "cuda":
        torch.cuda.synchronize()


def cuda_ms(fn, repeats: int = 20) -> float:
    """Median wall time of ``fn()`` in milliseconds, synchronised, after two warm-ups."""
    for _ in range(2):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.cpu().double() - b.cpu().double()).norm() / b.double().norm().clamp_min(1e-30))


def section_operators(lines: list[str]) -> None:
    from genprior.physics import make_operator

    lines += ["### Operators: CUDA against CPU, batch of 100 (float32)", "",
              "| operator | A rel. diff to CPU | A^T rel. diff to CPU | A + A^T ms/100 (GPU) | A + A^T ms/100 (CPU, this machine) |",
              "|---|---:|---:|---:|---:|"]
    cases = [("tomography", 56, {}), ("tomography", 128, {}), ("sparse-view", 56, {}), ("limited-angle", 56, {}),
             ("cs", 28, {}), ("deconvolution", 28, {}), ("deconvolution", 128, {}), ("inpainting", 28, {}),
             ("denoising", 28, {})]
    for name, n, options in cases:
        op = make_operator(name, image_size=n, **options)
        x = torch.rand(100, 1, n, n, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            ax = op.A(x)
            y = torch.randn(ax.shape, generator=torch.Generator().manual_seed(1))
            aty = op.A_adjoint(y)
            op_gpu = op.to(CUDA)
            xg, yg = x.to(CUDA), y.to(CUDA)
            da, dat = rel(op_gpu.A(xg), ax), rel(op_gpu.A_adjoint(yg), aty)
            gpu = cuda_ms(lambda: (op_gpu.A(xg), op_gpu.A_adjoint(yg)))
            op_cpu = op.to("cpu")
            start = time.perf_counter()
            for _ in range(5):
                op_cpu.A(x), op_cpu.A_adjoint(y)
            cpu = (time.perf_counter() - start) / 5 * 1e3
        lines.append(f"| {name} {n} | {da:.1e} | {dat:.1e} | {gpu:.3f} | {cpu:.2f} |")
    lines.append("")


def _problem(dataset: str):
    from genprior.data.io import load_images
    from genprior.experiments.reconstruction import measure
    from genprior.physics import make_operator

    if dataset == "mnist":
        op, noise, model = make_operator("cs", image_size=28), 0.05, RUNS / "mnist-vae-8"
        x = load_images(RUNS / "data" / "mnist.npz", "test")[:100]
    else:
        op, noise, model = make_operator("tomography", image_size=56), 0.1, RUNS / "shapes-vae-10"
        x = load_images(RUNS / "data" / "shapes.npz", "test")[:100]
    return op, x, measure(op, x, noise, seed=0), model


# Parameters: the PSNR-tuned values of bench_methods (RESULTS.md, section bench_methods_methods).
PARAMS = {
    "mnist": {"tikhonov": {"lam": 0.0391}, "tv": {"lam": 0.00977}, "hard": {"lam": 1.53e-05},
              "pgd": {"lam": 0.00391}, "relaxed": {"lam": 0.156, "mu": 0.00391},
              "sparse": {"lam": 0.156, "mu": 0.00391}, "sparse-tv": {"lam": 0.0391, "mu": 0.00391}},
    "shapes": {"tikhonov": {"lam": 0.195}, "tv": {"lam": 0.049}, "hard": {"lam": 0.00305},
               "relaxed": {"lam": 0.39, "mu": 0.624}, "sparse-tv": {"lam": 0.2, "mu": 0.025}},
}


def section_methods(lines: list[str], quick: bool) -> None:
    from genprior.metrics import psnr
    from genprior.methods import solve
    from genprior.models.checkpoint import load_model

    lines += ["### Methods on 100 test images: CUDA against the CPU of the same machine", "",
              "Same measurements, parameters and starts (z0 = encoder of a simple reconstruction for the "
              "generative methods); seconds are the whole call, synchronised.", "",
              "| problem | method | parameters | GPU s/image | CPU s/image | GPU PSNR | CPU PSNR | mean iterations (GPU / CPU) |",
              "|---|---|---|---:|---:|---:|---:|---:|"]
    for dataset, title in (("mnist", "MNIST CS (m = 150, sigma 0.05)"), ("shapes", "Shapes tomography (sigma 0.1)")):
        op, x, y, model_dir = _problem(dataset)
        G = load_model(model_dir)
        for method, params in PARAMS[dataset].items():
            if quick and method not in ("hard", "tv"):
                continue
            extra = {"init": "encoder"} if method not in ("tikhonov", "tv") else {}
            row = {}
            for where in (CUDA.type, "cpu"):
                opd, yd, Gd = op.to(where), y.to(where), G.to(where)
                sync()
                start = time.perf_counter()
                result = solve(method, opd, yd, Gd if method not in ("tikhonov", "tv") else None,
                                     **params, **extra)
                sync()
                row[where] = (time.perf_counter() - start, float(psnr(result.x.cpu(), x).mean()),
                              float(result.iterations.float().mean()), result.x.device.type)
            assert row[CUDA.type][3] == CUDA.type, f"{method} returned its image on {row[CUDA.type][3]}"
            p = ", ".join(f"{k}={v:g}" for k, v in params.items())
            lines.append(f"| {title} | {method} | {p} | {row[CUDA.type][0] / 100:.4f} | {row['cpu'][0] / 100:.4f} | "
                         f"{row[CUDA.type][1]:.2f} | {row['cpu'][1]:.2f} | {row[CUDA.type][2]:.0f} / {row['cpu'][2]:.0f} |")
            print(lines[-1], flush=True)
    lines.append("")


def section_batching(lines: list[str]) -> None:
    """Hard on MNIST CS: one batch of 100 against a loop over single images, on CUDA."""
    from genprior.methods import solve
    from genprior.models.checkpoint import load_model

    op, x, y, model_dir = _problem("mnist")
    op, y, G = op.to(CUDA), y.to(CUDA), load_model(model_dir).to(CUDA)
    z0 = torch.randn(100, G.latent_dim, generator=torch.Generator().manual_seed(0)).to(CUDA)
    solve("hard", op, y[:2], G, lam=1.53e-5, init=z0[:2])  # warm-up
    sync()
    start = time.perf_counter()
    solve("hard", op, y, G, lam=1.53e-5, init=z0)
    sync()
    batch = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(100):
        solve("hard", op, y[i:i + 1], G, lam=1.53e-5, init=z0[i:i + 1])
    sync()
    loop = time.perf_counter() - start
    lines += ["### Batching on CUDA: hard on MNIST CS, 100 images, same starts", "",
              f"One batch: {batch:.2f} s; loop over single images: {loop:.2f} s; speed-up **{loop / batch:.0f}x**.", ""]


def section_training(lines: list[str], quick: bool) -> None:
    from genprior.models import create_model
    from genprior.training.loop import TrainConfig, train

    lines += ["### Training loop on CUDA (random images; the first quarter of the steps is warm-up)", "",
              "| kind | preset | size | batch | precision | s/step | images/s |", "|---|---|---:|---:|---|---:|---:|"]
    cases = [("vae", "compact", 56, 32, 200), ("gan", "compact", 56, 50, 40), ("vae", "compact", 128, 8, 100),
             ("vae", "paper", 28, 64, 100), ("vae", "paper", 56, 32, 40), ("vae", "paper", 128, 8, 60)]
    for kind, preset, n, batch, steps in cases[:2] if quick else cases:
        for amp in (False, True):
            torch.manual_seed(0)
            latent = {28: 8, 56: 10, 128: 800}[n]
            model = create_model(kind, preset=preset, latent_dim=latent, image_size=n)
            images = torch.rand(max(4 * batch, 256), 1, n, n)
            log = max(1, steps // 4)
            config = TrainConfig(steps=steps + log, batch_size=batch, lr=1e-4, log_every=log,
                                 checkpoint_every=10**9, sample_every=None, device=CUDA.type, amp=amp)
            with tempfile.TemporaryDirectory() as tmp:
                history = train(model, images, Path(tmp) / "run", config, progress=False)
            seconds = history[-1]["seconds"] - history[0]["seconds"]
            timed = history[-1]["step"] - history[0]["step"]
            per = batch * (model.config.critic_steps if kind == "gan" else 1)
            lines.append(f"| {kind} | {preset} | {n} | {batch} | {'bf16 autocast' if amp else 'float32'} | "
                         f"{seconds / timed:.4f} | {per * timed / seconds:.0f} |")
            print(lines[-1], flush=True)
            del model
            if CUDA.type == "cuda":
                torch.cuda.empty_cache()
    lines.append("")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the Markdown section here (GPU machine)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sections", nargs="+", default=["operators", "batching", "methods", "training"],
                        choices=["operators", "batching", "methods", "training"])
    parser.add_argument("--record-from", help="record a section written by --out into RESULTS.md (here)")
    args = parser.parse_args(argv)
    if args.record_from:
        from benchlib import record

        record("bench_gpu", Path(args.record_from).read_text().strip())
        return
    if CUDA.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench_gpu needs a CUDA GPU (or BENCH_GPU_DEVICE=cpu for a dry run)")
    lines = ["## GPU: operators, methods and training on CUDA (bench_gpu)", "",
             f"Command: `python benchmarks/bench_gpu.py --out gpu.md` on the lent GPU machine "
             f"({time.strftime('%Y-%m-%d')}), recorded here with `--record-from`  ",
             f"Machine: {torch.cuda.get_device_name() if CUDA.type == 'cuda' else 'CPU dry run'}; torch {torch.__version__}; Python {platform.python_version()}; "
             f"{torch.get_num_threads()} CPU threads for the CPU columns (not the 2-core machine of the other sections)", ""]
    for name, fn in (("operators", lambda: section_operators(lines)), ("batching", lambda: section_batching(lines)),
                     ("methods", lambda: section_methods(lines, args.quick)),
                     ("training", lambda: section_training(lines, args.quick))):
        if name not in args.sections:
            continue
        start = time.perf_counter()
        try:
            fn()
        except Exception:  # report and go on: one broken path must not hide the others
            lines += [f"**{name} failed:**", "", "```", traceback.format_exc().strip(), "```", ""]
            print(traceback.format_exc(), flush=True)
        print(f"[{name}: {time.perf_counter() - start:.1f} s]", flush=True)
        if args.out:
            Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
