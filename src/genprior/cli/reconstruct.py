"""``genprior reconstruct``: pose a problem on test images, solve it, write results.json."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from genprior.cli.app import app


def _parse_range(text: str | None) -> tuple[float, float] | None:
    """``"0:3.14159"`` (radians) or ``"0:180deg"`` (degrees) -> ``(start, stop)``."""
    if text is None:
        return None
    start, sep, stop = text.partition(":")
    scale = 1.0
    if stop.endswith("deg"):
        stop, scale = stop[:-3], math.pi / 180.0
    try:
        if not sep:
            raise ValueError
        return float(start) * scale, float(stop) * scale
    except ValueError:
        raise ValueError(f"--angle-range must look like 0:1.57 (radians) or 0:90deg, got {text!r}") from None


@app.command("reconstruct")
def reconstruct_command(
    problem: str = typer.Option("tomography", "--problem", help="Inverse problem: tomography."),
    method: str = typer.Option(..., "--method", help="hard, relaxed, tikhonov or tv."),
    data: Path = typer.Option(..., "--data", help="Data set (.npz made by `genprior data`)."),
    out: Path = typer.Option(..., "--out", "-o", help="Results JSON file."),
    model: Path = typer.Option(None, "--model", help="Checkpoint directory (needed by hard and relaxed)."),
    split: str = typer.Option("test", "--split", help="Which split of the data file: test or train."),
    indices: str = typer.Option(None, "--indices", help="Images to reconstruct, e.g. 0:100 or 3,7,9 (default: the first 100)."),
    noise: float = typer.Option(0.1, "--noise", help="Noise standard deviation sigma (operator has norm 1)."),
    lam: float = typer.Option(None, "--lam", help="Regularisation weight lambda (method default if omitted)."),
    mu: float = typer.Option(None, "--mu", help="Latent weight mu (relaxed)."),
    init: str = typer.Option("random", "--init", help="Latent initialisation: random or encoder."),
    max_iter: int = typer.Option(None, "--max-iter", help="Iteration limit (method default if omitted)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the noise and of random initialisations."),
    angles: int = typer.Option(None, "--angles", help="Tomography: number of angles (default: ODL's)."),
    angle_range: str = typer.Option(None, "--angle-range", help="Tomography: angle range, e.g. 0:90deg."),
    measurements: int = typer.Option(None, "--measurements", help="Compressed sensing: number of measurements m."),
    keep: float = typer.Option(None, "--keep", help="Inpainting: fraction of pixels kept."),
    kernel_size: int = typer.Option(None, "--kernel-size", help="Deconvolution: Gaussian kernel size."),
    kernel_width: float = typer.Option(None, "--kernel-width", help="Deconvolution: Gaussian kernel standard deviation."),
    operator_seed: int = typer.Option(None, "--operator-seed", help="Seed of random operators (CS matrix, mask, angles)."),
    figure: Path = typer.Option(None, "--figure", help="Also write a PNG grid: truth and reconstruction."),
) -> None:
    """Reconstruct images from simulated noisy measurements and report PSNR/NRMSE/SSIM."""
    import torch

    from genprior import __version__
    from genprior.atomic import write_json_atomic
    from genprior.data.io import load_images, parse_indices
    from genprior.evaluation.metrics import psnr
    from genprior.experiments.reconstruction import measure, reconstruct, record
    from genprior.methods import get_method
    from genprior.models.checkpoint import load_model
    from genprior.physics.problems import PROBLEMS, make_operator
    from genprior.validation import check_choice, check_nonnegative

    spec = get_method(method)
    check_choice(problem, tuple(PROBLEMS), "problem")
    check_nonnegative(noise, "--noise")
    generator = load_model(model) if model is not None else None
    images = load_images(data, split)
    picked = parse_indices(indices if indices is not None else f"0:{min(100, images.shape[0])}", images.shape[0])
    truth = images[picked]
    physics = make_operator(problem, int(truth.shape[-1]), angles=angles, angle_range=_parse_range(angle_range),
                            measurements=measurements, keep=keep, kernel_size=kernel_size,
                            kernel_width=kernel_width, seed=operator_seed)
    params = {"lam": lam, "mu": mu, "max_iter": max_iter}
    if spec.needs_generator:
        params.update(init=init, seed=seed)
    if method == "tv" and max_iter is not None:
        params["n_iter"] = params.pop("max_iter")
    params = {k: v for k, v in params.items() if v is not None}
    unused = ({"lam", "mu"} - set(spec.params)) & set(params)
    if unused:
        raise ValueError(f"method {method!r} does not take --{', --'.join(sorted(unused))}")
    y = measure(physics, truth, noise, seed)
    result = reconstruct(physics, y, method, generator, **params)
    summary = record(
        result, truth, picked, problem=problem, operator=physics.extra_repr(), method=method,
        params=result.params, noise=noise, seed=seed, data=str(data), split=split,
        model=str(model) if model is not None else None, versions={"genprior": __version__, "torch": torch.__version__},
    )
    write_json_atomic(out, summary)
    if figure is not None:
        from genprior.evaluation.figures import reconstruction_grid

        reconstruction_grid(truth, {method: result.x}, {method: psnr(result.x, truth)}, figure)
    p = summary["psnr"]
    typer.echo(f"{method} on {problem} ({len(picked)} images, sigma {noise}): PSNR {p['mean']:.2f} +- {p['std']:.2f} dB "
               f"(data range 1), {summary['seconds_per_image']:.3f} s/image; wrote {out}")
