"""``genprior tune``: choose parameters on tuning images, evaluate them on test images.

Started under ``torchrun --nproc_per_node P`` the tuning and test images are split
across the P processes and rank 0 writes the JSON (and the figure).
"""

from __future__ import annotations

import inspect
from pathlib import Path

import typer

from genprior.cli import problem_options as opts
from genprior.cli.app import app
from genprior.cli.problem_options import check_max_batch, check_outputs, make_problem, method_params
from genprior.physics.problems import PROBLEMS


@app.command("tune")
def tune_command(
    problem: str = opts.PROBLEM,
    method: str = opts.METHOD,
    data: Path = opts.DATA,
    out: Path = typer.Option(..., "--out", "-o", help="Output JSON: chosen values, PSNR surface, test record."),
    model: Path = opts.MODEL,
    split: str = opts.SPLIT,
    tune_indices: str = typer.Option("0:20", "--tune-indices", help="Tuning images (the paper: 20)."),
    test_indices: str = typer.Option("20:120", "--test-indices", help="Test images (the paper: 100)."),
    noise: float = opts.NOISE,
    grid: list[str] = typer.Option(None, "--grid", help="NAME=start:factor:floor or NAME=v1,v2,... (repeatable); "
                                   "default: the method's grid (factor 0.25 for 28x28 images, else 0.5)."),
    criterion: str = typer.Option("psnr", "--criterion", help="psnr (needs ground truth) or discrepancy "
                                  "(||A x - y|| closest to sigma sqrt(m); chooses lam with mu fixed)."),
    mu: float = typer.Option(None, "--mu", help="Fixed mu when the grid has none (e.g. for --criterion discrepancy)."),
    latent_prior: str = opts.LATENT_PRIOR,
    restarts: int = opts.RESTARTS,
    init: str = opts.INIT,
    x_init: str = typer.Option(None, "--x-init", help="Start of x (relaxed, tikhonov, tv) or u (sparse)."),
    coordinates: str = opts.COORDINATES,
    max_iter: int = opts.MAX_ITER,
    max_batch: int = typer.Option(4096, "--max-batch", help="Problems (grid points x images) solved together at most."),
    seed: int = typer.Option(0, "--seed", help="Seed: test noise and starts use it, tuning noise uses seed + 1."),
    angles: int = opts.ANGLES,
    angle_range: str = opts.ANGLE_RANGE,
    measurements: int = opts.MEASUREMENTS,
    keep: float = opts.KEEP,
    kernel_size: int = opts.KERNEL_SIZE,
    kernel_width: float = opts.KERNEL_WIDTH,
    operator_seed: int = opts.OPERATOR_SEED,
    force: bool = typer.Option(False, "--force", help="Replace --out (and --figure) if they exist."),
    figure: Path = typer.Option(None, "--figure", help="Also write the tuning surface as PNG (PSNR and residual vs lam)."),
    device: str = opts.DEVICE,
) -> None:
    """Grid search (PSNR or discrepancy principle) on tuning images, then evaluation on test images."""
    import torch

    from genprior import __version__
    from genprior.atomic import write_json_atomic
    from genprior.choice.tuning import CRITERIA, default_grid, grid_points, parse_grid
    from genprior.data.io import load_images, parse_indices
    from genprior.distributed import process_group
    from genprior.experiments.tuning import plot_surface, run_tuning
    from genprior.methods import check_param_values, get_method
    from genprior.models.checkpoint import load_model
    from genprior.validation import check_choice, check_nonnegative

    check_outputs(out, figure, force, data, model)  # before any work
    spec = get_method(method)
    check_choice(problem, tuple(PROBLEMS), "problem")
    check_choice(criterion, CRITERIA, "criterion")
    check_nonnegative(noise, "--noise")
    options = {"max_iter": max_iter, "latent_prior": latent_prior, "restarts": restarts, "x_init": x_init,
               "coordinates": coordinates}
    if spec.needs_generator:
        options.update(init=init, seed=seed)
    params = method_params(method, options)
    check_max_batch(max_batch, restarts)
    generator = load_model(model) if model is not None else None
    if spec.needs_generator and generator is None:
        raise ValueError(f"method {method!r} needs a generator: pass --model DIR (a trained checkpoint)")
    images = load_images(data, split)
    tune_idx = parse_indices(tune_indices, images.shape[0])
    test_idx = parse_indices(test_indices, images.shape[0])
    if set(tune_idx) & set(test_idx):
        raise ValueError("--tune-indices and --test-indices overlap: tune and test on separate images")
    size = int(images.shape[-1])
    chosen_grid = parse_grid(grid) if grid else default_grid(method, size)
    unknown = set(chosen_grid) - set(spec.params)
    if unknown:
        raise ValueError(f"method {method!r} has no parameter(s) {sorted(unknown)}; it takes {list(spec.params)}")
    check_param_values(method, chosen_grid)
    grid_points(chosen_grid)  # the product of the values is bounded
    if mu is not None:
        if "mu" not in spec.params:
            raise ValueError(f"method {method!r} does not take --mu")
        check_param_values(method, {"mu": mu})
        if grid and "mu" in chosen_grid:
            raise ValueError("give mu either in --grid or with --mu, not both")
        chosen_grid["mu"] = [mu]
    elif "mu" in spec.params and (criterion == "discrepancy" and not grid or "mu" not in chosen_grid):
        # the discrepancy principle chooses lam only; a --grid without mu means mu fixed
        chosen_grid["mu"] = [inspect.signature(spec.function).parameters["mu"].default]
    physics = make_problem(problem, size, angles, angle_range, measurements, keep, kernel_size, kernel_width,
                           operator_seed)
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
    write_json_atomic(out, result)
    if figure is not None:
        plot_surface(result, figure)
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
