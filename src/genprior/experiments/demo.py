"""The demo: a VAE prior against TV on the paper's Shapes tomography problem, end to end.

Steps: make Shapes data; train the compact VAE (or reuse a finished checkpoint of the
same settings in the output directory); pose parallel-beam tomography (ODL's default
geometry, operator norm 1) with noise ``sigma = 0.1``; choose each method's parameters
by a grid search on 5 tuning images; reconstruct 20 separate test images with TV,
Tikhonov, hard and relaxed; write ``report.md``, ``results.json`` and ``figure.png``.

The test rows are solved by :func:`~genprior.experiments.reconstruction.run_reconstruction`,
the code of ``genprior reconstruct``, on the images saved in ``data.npz`` and the model
loaded from ``model/``; the report prints for each row the ``genprior reconstruct``
command (:mod:`genprior.experiments.repeat`) that computes the same numbers.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

DEMO_METHODS = ("tv", "tikhonov", "hard", "relaxed")


@dataclass
class DemoSettings:
    """Sizes and budgets of a demo run; :meth:`quick` is the CI smoke-test version."""

    n_train: int = 20_000
    # a fixed number of steps (not a time budget), so the demo's numbers do not depend on the machine's load
    train_steps: int = 3000
    batch_size: int = 32
    lr: float = 2e-3
    schedule: str = "cosine"
    init: str = "encoder"
    # relaxed in the deviation coordinates (z, u = x - G(z)): the same objective as Algorithm 2,
    # minimised in ~10x fewer iterations at the demo's lam (benchmarks/RESULTS.md, bench_convergence)
    relaxed_coordinates: str = "u"
    latent_dim: int = 10
    noise: float = 0.1
    n_tune: int = 5
    n_test: int = 20
    seed: int = 0
    # iteration caps: the methods' own (high enough that every solve converges), or smaller for --quick
    max_iter: dict[str, int] = field(default_factory=dict)
    grids: dict[str, dict[str, list[float]]] = field(default_factory=lambda: {
        "tv": {"lam": [0.2, 0.1, 0.05, 0.025, 0.0125]},
        "tikhonov": {"lam": [0.8, 0.4, 0.2, 0.1, 0.05]},
        "hard": {"lam": [0.05, 0.0125, 0.003, 0.0008, 0.0002]},
        "relaxed": {"lam": [6.4, 3.2, 1.6, 0.8, 0.4, 0.2], "mu": [0.04, 0.01, 0.0025]},
    })

    @classmethod
    def quick(cls) -> "DemoSettings":
        return cls(
            n_train=3000, train_steps=400, n_tune=3, n_test=6,
            max_iter={"hard": 60, "relaxed": 60, "tikhonov": 100, "tv": 200},
            grids={
                "tv": {"lam": [0.1, 0.05, 0.025]},
                "tikhonov": {"lam": [0.4, 0.2, 0.1]},
                "hard": {"lam": [0.0125, 0.003, 0.0008]},
                "relaxed": {"lam": [0.8, 0.4], "mu": [0.04, 0.01]},
            },
        )

    def model_key(self) -> dict[str, Any]:
        """The settings a reusable checkpoint must match."""
        return {"n_train": self.n_train, "train_steps": self.train_steps, "batch_size": self.batch_size,
                "lr": self.lr, "schedule": self.schedule, "latent_dim": self.latent_dim, "seed": self.seed}


def _log(message: str, verbose: bool) -> None:
    if verbose:
        print(message, flush=True)


def _model(out: Path, train_images: torch.Tensor, s: DemoSettings, verbose: bool):
    """Load the demo's checkpoint if it finished with the same settings, else train it."""
    from genprior.models.checkpoint import load_model, read_config
    from genprior.models.vae import VAE, ModelConfig
    from genprior.training.loop import TrainConfig, train

    model_dir = out / "model"
    if (model_dir / "config.json").exists():
        try:
            training = read_config(model_dir)["training"]
            if training.get("finished") and training.get("data", {}).get("demo") == s.model_key():
                _log(f"reusing the trained model in {model_dir}", verbose)
                return load_model(model_dir), training
        except (ValueError, FileNotFoundError):
            pass  # unreadable or foreign checkpoint: train a fresh one over it
    _log(f"training the compact VAE (latent {s.latent_dim}) for {s.train_steps} steps", verbose)
    torch.manual_seed(s.seed)
    model = VAE(ModelConfig(kind="vae", preset="compact", latent_dim=s.latent_dim, image_size=56, kl_weight=0.01))
    config = TrainConfig(steps=s.train_steps, batch_size=s.batch_size, lr=s.lr, seed=s.seed,
                         log_every=100, schedule=s.schedule)
    train(model, train_images, model_dir, config, data_info={"dataset": "shapes", "demo": s.model_key()},
          progress=verbose, force=True)  # replaces a stale or foreign checkpoint (checked above)
    # the saved model, as a rerun and `genprior reconstruct --model` load it
    return load_model(model_dir), read_config(model_dir)["training"]


def run_demo(out_dir: str | Path = "demo-output", quick: bool = False, verbose: bool = True,
             settings: DemoSettings | None = None) -> dict[str, Any]:
    """Run the demo and write its report; returns the results dictionary.

    ``settings`` replaces the default (or ``quick``) sizes and budgets, e.g. a tiny run in tests.
    """
    from genprior import __version__
    from genprior.atomic import write_json_atomic, write_text_atomic
    from genprior.choice.tuning import grid_search
    from genprior.data.io import load_images, save_dataset
    from genprior.data.shapes import shapes_dataset
    from genprior.experiments.reconstruction import measure, run_reconstruction
    from genprior.experiments.repeat import command_line, reconstruct_argv
    from genprior.figures import reconstruction_grid
    from genprior.metrics import psnr
    from genprior.physics.problems import make_operator

    s = settings or (DemoSettings.quick() if quick else DemoSettings())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    train_np, test_np = shapes_dataset(s.n_train, s.n_tune + s.n_test, seed=s.seed)
    model, training = _model(out, torch.from_numpy(train_np), s, verbose)
    # the tuning and test images, saved for the commands that repeat the rows, and read back as they will read them
    data = save_dataset(out / "data.npz", test=test_np, meta={
        "dataset": "shapes", "seed": s.seed, "demo": f"test images 0:{s.n_tune} tune, {s.n_tune}: test"})
    test = load_images(data, "test")
    tune_x, eval_x = test[: s.n_tune], test[s.n_tune :]
    eval_indices = list(range(s.n_tune, s.n_tune + s.n_test))
    physics = make_operator("tomography", 56)
    y_tune = measure(physics, tune_x, s.noise, seed=s.seed + 1)
    _log(f"tomography {physics.sinogram_shape}, sigma {s.noise}: tuning on {s.n_tune} images, "
         f"testing on {s.n_test}", verbose)

    records: dict[str, dict[str, Any]] = {}
    recons: dict[str, torch.Tensor] = {}
    for method in DEMO_METHODS:
        generator = model if method in ("hard", "relaxed") else None
        options: dict[str, Any] = {"max_iter": s.max_iter[method]} if method in s.max_iter else {}
        if generator is not None:
            options["init"] = s.init
        if method == "relaxed":
            options.update(x_init="generator", coordinates=s.relaxed_coordinates)
        tuned = grid_search(physics, y_tune, tune_x, method, s.grids[method], generator=generator, **options)
        # the test images' noise comes from seed + 2 (the tuning images' from seed + 1)
        summary, x = run_reconstruction(physics, eval_x, eval_indices, method, generator,
                                        {**tuned["best"], **options}, noise=s.noise, seed=s.seed + 2)
        argv = reconstruct_argv(method, summary["params"], problem="tomography", data=data, indices=eval_indices,
                                noise=s.noise, noise_seed=s.seed + 2, out=out / f"repeat-{method}.json",
                                model=out / "model" if generator is not None else None)
        records[method] = {**summary, "tuning": tuned, "command": command_line(argv)}
        recons[method] = x
        rec = records[method]
        _log(f"  {method:9s} {json.dumps(tuned['best'])}: PSNR {rec['psnr']['mean']:.2f} +- "
             f"{rec['psnr']['std']:.2f} dB, {rec['seconds_per_image']:.3f} s/image", verbose)

    best_generative = max(records[m]["psnr"]["mean"] for m in ("hard", "relaxed"))
    results = {
        "problem": "tomography", "geometry": list(physics.sinogram_shape), "noise": s.noise,
        "quick": quick, "psnr_data_range": 1.0, "n_tune": s.n_tune, "n_test": s.n_test, "init": s.init,
        "relaxed_coordinates": s.relaxed_coordinates, "data": str(data),
        "noise_seeds": {"tuning": s.seed + 1, "test": s.seed + 2},
        "model": {"kind": "vae", "preset": "compact", "latent_dim": s.latent_dim, "training": training,
                  "path": str(out / "model")},
        "methods": records,
        "gain_over_tv_db": best_generative - records["tv"]["psnr"]["mean"],
        "seconds": round(time.perf_counter() - started, 1),
        "versions": {"genprior": __version__, "torch": torch.__version__},
    }
    write_json_atomic(out / "results.json", results)
    figure_methods = ("tv", "hard", "relaxed")
    reconstruction_grid(eval_x, {m: recons[m] for m in figure_methods},
                        {m: psnr(recons[m], eval_x) for m in figure_methods}, out / "figure.png")
    table = psnr_table(results)
    write_text_atomic(out / "report.md", _report(results, table))
    _log("\n" + table, verbose)
    _log("\nto repeat a row (parameters in full in report.md):\n" +
         "\n".join(rec["command"] for rec in records.values()), verbose)
    _log(f"\nbest generative method vs TV: {results['gain_over_tv_db']:+.2f} dB; total {results['seconds']:.0f} s; "
         f"wrote {out / 'report.md'}, {out / 'results.json'}, {out / 'figure.png'}", verbose)
    return results


def psnr_table(results: dict[str, Any]) -> str:
    """Markdown table of mean +- std PSNR, parameters, time, iterations and converged solves per method."""
    lines = ["| method | parameters | PSNR (dB, range 1) | SSIM | s/image | iterations | converged |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for method, rec in results["methods"].items():
        params = ", ".join(f"{k}={v:g}" for k, v in rec["tuning"]["best"].items())
        lines.append(f"| {method} | {params} | {rec['psnr']['mean']:.2f} +- {rec['psnr']['std']:.2f} | "
                     f"{rec['ssim']['mean']:.3f} | {rec['seconds_per_image']:.3f} | {rec['iterations']['mean']:.0f} | "
                     f"{rec['converged']}/{rec['n_images']} |")
    return "\n".join(lines)


def _report(results: dict[str, Any], table: str) -> str:
    training = results["model"]["training"]
    return f"""# genprior demo: Shapes tomography, VAE prior vs TV

Parallel-beam tomography on 56x56 Shapes images ({results['geometry'][0]} angles x {results['geometry'][1]} bins,
operator rescaled to norm 1), Gaussian noise sigma = {results['noise']}. Parameters were chosen by a grid
search for the best mean PSNR on {results['n_tune']} tuning images, then the methods were run on
{results['n_test']} other test images. PSNR uses data range 1 (the paper's figures use range 2: add 6.02 dB).

Generator: compact VAE, latent dimension {results['model']['latent_dim']}, trained for
{training.get('steps_done')} steps ({training.get('seconds')} s).

Initialisation: hard and relaxed start from the VAE encoder's code of a quick least-squares
reconstruction (20 conjugate-gradient steps), and relaxed starts x at G(z0); the paper starts
from z ~ N(0, I) (`genprior reconstruct --init random`). Relaxed minimises the paper's objective
{'in the coordinates (z, u = x - G(z)) (`--coordinates u`), which reaches its minimum in about a tenth of the iterations of the paper' + chr(39) + 's Algorithm 2 at these parameters' if results['relaxed_coordinates'] == 'u' else 'by the paper' + chr(39) + 's Algorithm 2'}. TV and Tikhonov start from zero and
from N(0, 1) pixels. Every solve runs until its stopping rule (objective decrease below 1e-7
per iteration for hard, relaxed and Tikhonov; primal and dual change below 1e-4 for TV by
PDHG){' (quick mode: small iteration caps)' if results['quick'] else ', with caps high enough not to bind'};
the last column counts the test images whose solve converged. Tuning used the same caps.

{table}

Best generative method minus TV: **{results['gain_over_tv_db']:+.2f} dB** mean PSNR.
Total time {results['seconds']:.0f} s{' (quick mode: small model, few iterations)' if results['quick'] else ''}.

![truth, TV, hard, relaxed](figure.png)

{_repeat_section(results)}"""


def _repeat_section(results: dict[str, Any]) -> str:
    """Every parameter of each row, and the ``genprior reconstruct`` command that repeats it."""
    seeds = results["noise_seeds"]
    lines = ["## Repeating a row", "",
             f"The test images are images {results['n_tune']}:{results['n_tune'] + results['n_test']} of the test split "
             f"of `{results['data']}` (images 0:{results['n_tune']} tuned the parameters), the generator is "
             f"`{results['model']['path']}`, and the noise (sigma {results['noise']}) of the test images is drawn "
             f"from seed {seeds['test']} (of the tuning images from seed {seeds['tuning']}). Run from the directory "
             "the demo ran in, each command below solves its row again with every parameter spelled out and "
             "prints the same mean PSNR (to float rounding: the same numbers on the same machine and number of "
             "threads).", ""]
    for method, rec in results["methods"].items():
        params = ", ".join(f"{k}={v if isinstance(v, (str, int, float)) else json.dumps(v)}"
                           for k, v in rec["params"].items())
        lines += [f"**{method}** (PSNR {rec['psnr']['mean']:.2f} dB): {params}", "", "```sh", rec["command"], "```", ""]
    return "\n".join(lines)
