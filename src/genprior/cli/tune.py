"""``genprior tune``: choose parameters on tuning images, evaluate them on test images.

Started under ``torchrun --nproc_per_node P`` the tuning and test images are split
across the P processes and rank 0 writes the JSON (and the figure).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import typer

from genprior.choice.tuning import CRITERIA
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
)
from genprior.errors import InputError
from genprior.methods.batching import check_max_batch

Criterion = Literal[CRITERIA]


@app.command("tune")
@with_options(opts.METHOD_OPTIONS, opts.PROBLEM_OPTIONS)
def tune_command(
    problem: ProblemName = opts.PROBLEM,
    method: MethodName = opts.METHOD,
    data: Path = opts.DATA,
    out: Path = typer.Option(..., "--out", "-o", help="Output file (JSON): chosen values, PSNR surface, test record."),
    model: Path = opts.MODEL,
    split: Split = opts.SPLIT,
    tune_indices: str = typer.Option("0:20", "--tune-indices", help="Tuning images (the paper: 20)."),
    test_indices: str = typer.Option("20:120", "--test-indices", help="Test images (the paper: 100)."),
    noise: float = opts.NOISE,
    grid: list[str] = typer.Option(None, "--grid", help="NAME=start:factor:floor or NAME=v1,v2,... (repeatable); "
                                   "default: the method's grid (factor 0.25 for 28x28 images, else 0.5). A "
                                   "parameter given as an option (e.g. --mu 0.1) is fixed instead."),
    criterion: Criterion = typer.Option(
        "psnr", "--criterion", help="psnr (needs ground truth) or discrepancy (||A x - y|| closest to sigma sqrt(m); "
        "chooses lam with the other parameters fixed)."),
    max_batch: int = typer.Option(4096, "--max-batch", help="Problems (grid points x images) solved together at most."),
    seed: int = typer.Option(0, "--seed", help="Seed: test noise and starts use it, tuning noise uses seed + 1."),
    force: bool = typer.Option(False, "--force", help="Replace --out (and --figure) if they exist."),
    figure: Path = typer.Option(None, "--figure", help="Also write the tuning surface as PNG (PSNR and residual vs lam)."),
    device: str = opts.DEVICE,
    **options: Any,  # the method parameters and problem options (genprior.cli.generated)
) -> None:
    """Grid search (PSNR or discrepancy principle) on tuning images, then evaluation on test images."""
    import torch

    from genprior import __version__
    from genprior.atomic import new_outputs, write_json_atomic
    from genprior.choice.grids import default_grid, grid_points, parse_grid
    from genprior.data.io import load_images, parse_indices
    from genprior.devices import resolve_device
    from genprior.distributed import process_group
    from genprior.experiments.tuning import plot_surface, run_tuning
    from genprior.methods import check_param_values, get_method
    from genprior.models.checkpoint import load_model
    from genprior.validation import check_nonnegative

    check_outputs(out, figure, force, data, model)  # before any work
    resolve_device(device)
    spec = get_method(method)
    check_nonnegative(noise, "--noise")
    params = method_params(method, options, seed=seed)
    fixed = {name: params.pop(name) for name in spec.tunable if name in params}  # e.g. --mu 0.1: not searched
    check_max_batch(max_batch, params.get("restarts"))
    generator = load_model(model) if model is not None else None  # none for a generative method: check_generator says so
    images = load_images(data, split)
    check_images(images, data)
    tune_idx = parse_indices(tune_indices, images.shape[0])
    test_idx = parse_indices(test_indices, images.shape[0])
    if set(tune_idx) & set(test_idx):
        raise InputError("--tune-indices and --test-indices overlap: tune and test on separate images")
    size = int(images.shape[-1])
    chosen_grid = parse_grid(grid) if grid else default_grid(method, size)
    unknown = set(chosen_grid) - set(spec.tunable)
    if unknown:
        raise InputError(f"method {method!r} has no parameter(s) {sorted(unknown)}; it takes {list(spec.tunable)}")
    check_param_values(method, chosen_grid)
    grid_points(chosen_grid)  # the product of the values is bounded
    for name in spec.tunable:
        if name in fixed:
            if grid and name in chosen_grid:
                raise InputError(f"give {name} either in --grid or as --{name}, not both")
            chosen_grid[name] = [fixed[name]]
        elif name not in chosen_grid or criterion == "discrepancy" and not grid and name != "lam":
            # the discrepancy principle chooses lam only; a parameter missing from --grid is fixed
            chosen_grid[name] = [spec.defaults()[name]]
    physics = make_problem(problem, size, options)
    with process_group(device) as rank:
        where = rank.device
        physics, images = physics.to(where), images.to(where)
        generator = generator.to(where) if generator is not None else None
        result = run_tuning(
            physics, method, chosen_grid, images[tune_idx], images[test_idx], test_idx, generator, params,
            criterion=criterion, noise=noise, seed=seed, rank=rank, max_batch=max_batch,
            problem=problem, operator=physics.extra_repr(), data=str(data), split=split,
            model=str(model) if model is not None else None, tune_indices=tune_idx, device=str(where),
            versions={"genprior": __version__, "torch": torch.__version__},
        )
    if not rank.is_main:
        return
    with new_outputs(out, figure, replace=force):  # a file that appeared meanwhile is not replaced
        if figure is not None:  # first: a figure that cannot be written leaves no JSON behind
            plot_surface(result, figure)
        write_json_atomic(out, result)
    chosen = ", ".join(f"{k}={v:g}" for k, v in result["chosen"].items())
    t = result["test"]["psnr"]
    line = (f"{method} on {problem}, {criterion} choice {chosen} ({len(tune_idx)} tuning images): test PSNR "
            f"{t['mean']:.2f} +- {t['std']:.2f} dB on {len(test_idx)} images (data range 1, {result['test']['converged']} "
            f"converged; tuning: {result['tuning']['unconverged_points']} of {len(result['tuning']['table'])} grid "
            f"points with unconverged solves)")
    if "comparison" in result:
        c = result["comparison"]
        other = ", ".join(f"{k}={v:g}" for k, v in c["psnr_tuned"]["params"].items())
        line += f"; PSNR-tuned {other}: {c['psnr_tuned']['test_psnr']:.2f} dB ({c['difference_db']:+.2f} dB)"
    typer.echo(line + f"; wrote {out}")
