"""``genprior reconstruct``: pose a problem on test images, solve it, write results.json.

Started under ``torchrun --nproc_per_node P`` the images are split across the P
processes (:mod:`genprior.distributed`) and rank 0 writes the merged JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from genprior.cli import problem_options as opts
from genprior.cli.app import app
from genprior.cli.generated import with_options
from genprior.cli.problem_options import (
    MethodName,
    ProblemName,
    Split,
    check_images,
    check_outputs,
    make_problem,
    method_params,
    parse_lam,
)
from genprior.errors import InputError
from genprior.methods.batching import check_max_batch


@app.command("reconstruct")
@with_options(opts.METHOD_OPTIONS, opts.PROBLEM_OPTIONS)
def reconstruct_command(
    problem: ProblemName = opts.PROBLEM,
    method: MethodName = opts.METHOD,
    data: Path = opts.DATA,
    out: Path = typer.Option(..., "--out", "-o", help="Output file (JSON): per-image scores and their summary."),
    model: Path = opts.MODEL,
    split: Split = opts.SPLIT,
    indices: str = typer.Option(None, "--indices", help="Images to reconstruct, e.g. 0:100 or 3,7,9 (default: the first 100)."),
    noise: float = opts.NOISE,
    lam: str = typer.Option(None, "--lam", help="Regularisation weight lambda, or 'auto' (discrepancy principle "
                            "per image over --lam-grid). Method default if omitted."),
    lam_grid: str = typer.Option(None, "--lam-grid", help="Grid for --lam auto: start:factor:floor or v1,v2,... "
                                 "(default: the method's tuning grid)."),
    max_batch: int = typer.Option(4096, "--max-batch", help="Problems (images x restarts, x grid values with --lam auto) solved together at most; larger runs are solved in chunks."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random initialisations (and of the noise, unless --noise-seed)."),
    noise_seed: int = typer.Option(None, "--noise-seed", help="Seed of the noise alone (default: --seed); the "
                                   "demo's report uses it to repeat its rows."),
    force: bool = typer.Option(False, "--force", help="Replace --out (and --figure) if they exist."),
    figure: Path = typer.Option(None, "--figure", help="Also write a PNG grid: truth and reconstruction."),
    device: str = opts.DEVICE,
    **options: Any,  # the method parameters and problem options (genprior.cli.generated)
) -> None:
    """Reconstruct images from simulated noisy measurements and report PSNR/NRMSE/SSIM."""
    import torch

    from genprior import __version__
    from genprior.atomic import new_outputs, write_json_atomic
    from genprior.choice.grids import parse_grid
    from genprior.data.io import load_images, parse_indices
    from genprior.devices import resolve_device
    from genprior.distributed import process_group
    from genprior.experiments.reconstruction import run_reconstruction
    from genprior.methods import check_param_values
    from genprior.models.checkpoint import load_model
    from genprior.validation import check_nonnegative, check_seed

    check_outputs(out, figure, force, data, model)  # before any work
    resolve_device(device)
    check_nonnegative(noise, "--noise")
    noise_seed = seed if noise_seed is None else check_seed(noise_seed, "noise_seed")
    lam_value = parse_lam(lam)
    if lam_grid is not None and lam_value != "auto":
        raise InputError("--lam-grid is for --lam auto")
    grid = parse_grid([f"lam={lam_grid}"])["lam"] if lam_grid is not None else None
    if grid is not None:
        check_param_values(method, {"lam": grid})
    params = method_params(method, options, lam=None if lam_value == "auto" else lam_value, seed=seed)
    if lam_value == "auto":
        params["lam"] = "auto"
    check_max_batch(max_batch, params.get("restarts"))
    generator = load_model(model) if model is not None else None  # none for a generative method: check_generator says so
    images = load_images(data, split)
    check_images(images, data)
    picked = parse_indices(indices if indices is not None else f"0:{min(100, images.shape[0])}", images.shape[0])
    truth = images[picked]
    physics = make_problem(problem, int(truth.shape[-1]), options)
    with process_group(device) as rank:
        where = rank.device
        physics, truth = physics.to(where), truth.to(where)
        generator = generator.to(where) if generator is not None else None
        summary, x = run_reconstruction(
            physics, truth, picked, method, generator, params, noise=noise, seed=noise_seed, rank=rank, lam_grid=grid,
            max_batch=max_batch, problem=problem, operator=physics.extra_repr(),
            data=str(data), split=split, model=str(model) if model is not None else None, device=str(where),
            versions={"genprior": __version__, "torch": torch.__version__},
        )
    if not rank.is_main:
        return
    with new_outputs(out, figure, replace=force):  # a file that appeared meanwhile is not replaced
        if figure is not None:  # first: a figure that cannot be written leaves no JSON behind
            from genprior.figures import reconstruction_grid
            from genprior.metrics import psnr

            truth = truth.cpu()  # x is gathered on the CPU
            reconstruction_grid(truth, {method: x}, {method: psnr(x.to(truth.dtype), truth)}, figure)
        write_json_atomic(out, summary)
    p = summary["psnr"]
    procs = f", {rank.world_size} processes" if rank.world_size > 1 else ""
    typer.echo(f"{method} on {problem} ({len(picked)} images, sigma {noise}{procs}): PSNR {p['mean']:.2f} +- "
               f"{p['std']:.2f} dB (data range 1), {summary['seconds_per_image']:.3f} s/image, {summary['converged']} of "
               f"{summary['n_images']} converged (mean {summary['iterations']['mean']:.0f} iterations); wrote {out}")
