"""``genprior reconstruct``: pose a problem on test images, solve it, write results.json.

Started under ``torchrun --nproc_per_node P`` the images are split across the P
processes (:mod:`genprior.parallel`) and rank 0 writes the merged JSON.
"""

from __future__ import annotations

import inspect
import math
from pathlib import Path
from typing import Any

import typer

from genprior.cli.app import app
from genprior.methods import METHODS
from genprior.physics.problems import PROBLEMS


def _one_of(names) -> str:
    names = list(names)
    return ", ".join(names[:-1]) + " or " + names[-1]


# Built from the registries, so a newly registered method or problem shows up in --help.
METHOD_HELP = f"Reconstruction method: {_one_of(METHODS)}."
PROBLEM_HELP = f"Inverse problem: {_one_of(PROBLEMS)}."


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


def parse_lam(text: str | None) -> float | str | None:
    """``--lam``: a number or ``auto`` (discrepancy principle)."""
    if text is None or text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"--lam must be a number or 'auto', got {text!r}") from None


def method_params(method: str, options: dict[str, Any]) -> dict[str, Any]:
    """The method's keyword arguments from CLI options (``None`` = not given).

    Raises ``ValueError`` naming the options the method does not take.
    """
    from genprior.methods import get_method

    spec = get_method(method)
    accepted = set(inspect.signature(spec.function).parameters)
    given = {k: v for k, v in options.items() if v is not None}
    if "x_init" in given and "x_init" not in accepted and "u_init" in accepted:
        given["u_init"] = given.pop("x_init")  # sparse methods start u, not x
    if method == "tv" and "max_iter" in given:
        given["n_iter"] = given.pop("max_iter")
    unused = sorted(set(given) - accepted)
    if unused:
        flags = ", ".join("--" + k.replace("_", "-") for k in unused)
        raise ValueError(f"method {method!r} does not take {flags}")
    return given


def make_problem(problem: str, image_size: int, angles, angle_range, measurements, keep, kernel_size, kernel_width,
                 operator_seed):
    """The normalised operator of ``--problem`` and its options."""
    from genprior.physics.problems import make_operator
    from genprior.validation import check_choice

    check_choice(problem, tuple(PROBLEMS), "problem")
    return make_operator(problem, image_size, angles=angles, angle_range=_parse_range(angle_range),
                         measurements=measurements, keep=keep, kernel_size=kernel_size, kernel_width=kernel_width,
                         seed=operator_seed)


@app.command("reconstruct")
def reconstruct_command(
    problem: str = typer.Option("tomography", "--problem", help=PROBLEM_HELP),
    method: str = typer.Option(..., "--method", help=METHOD_HELP),
    data: Path = typer.Option(..., "--data", help="Data set (.npz made by `genprior data`)."),
    out: Path = typer.Option(..., "--out", "-o", help="Results JSON file."),
    model: Path = typer.Option(None, "--model", help="Checkpoint directory (needed by the generative methods)."),
    split: str = typer.Option("test", "--split", help="Which split of the data file: test or train."),
    indices: str = typer.Option(None, "--indices", help="Images to reconstruct, e.g. 0:100 or 3,7,9 (default: the first 100)."),
    noise: float = typer.Option(0.1, "--noise", help="Noise standard deviation sigma (operator has norm 1)."),
    lam: str = typer.Option(None, "--lam", help="Regularisation weight lambda, or 'auto' (discrepancy principle "
                            "per image over --lam-grid). Method default if omitted."),
    lam_grid: str = typer.Option(None, "--lam-grid", help="Grid for --lam auto: start:factor:floor or v1,v2,... "
                                 "(default: the method's tuning grid)."),
    mu: float = typer.Option(None, "--mu", help="Latent weight mu (relaxed, sparse, sparse-tv)."),
    latent_prior: str = typer.Option(None, "--latent-prior", help="R_Z: l2, box, sphere, critic (GAN) or tv."),
    restarts: int = typer.Option(None, "--restarts", help="Starts per image, best final objective kept (default 1)."),
    init: str = typer.Option("random", "--init", help="Latent initialisation: random or encoder."),
    x_init: str = typer.Option(None, "--x-init", help="Start of x (relaxed, tikhonov, tv: random, generator, zero) "
                               "or u (sparse: zero, random)."),
    coordinates: str = typer.Option(None, "--coordinates", help="Relaxed: x (Algorithm 2) or u (x = G(z) + u)."),
    x_steps: int = typer.Option(None, "--x-steps", help="Relaxed: x steps per z step."),
    max_iter: int = typer.Option(None, "--max-iter", help="Iteration limit (method default if omitted)."),
    max_batch: int = typer.Option(4096, "--max-batch", help="Problems solved together at most (--lam auto)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the noise and of random initialisations."),
    angles: int = typer.Option(None, "--angles", help="Tomography: number of angles (default: ODL's)."),
    angle_range: str = typer.Option(None, "--angle-range", help="Tomography: angle range, e.g. 0:90deg."),
    measurements: int = typer.Option(None, "--measurements", help="Compressed sensing: number of measurements m."),
    keep: float = typer.Option(None, "--keep", help="Inpainting: fraction of pixels kept."),
    kernel_size: int = typer.Option(None, "--kernel-size", help="Deconvolution: Gaussian kernel size."),
    kernel_width: float = typer.Option(None, "--kernel-width", help="Deconvolution: Gaussian kernel standard deviation."),
    operator_seed: int = typer.Option(None, "--operator-seed", help="Seed of random operators (CS matrix, mask, angles)."),
    figure: Path = typer.Option(None, "--figure", help="Also write a PNG grid: truth and reconstruction."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda (cuda:LOCAL_RANK under torchrun)."),
) -> None:
    """Reconstruct images from simulated noisy measurements and report PSNR/NRMSE/SSIM."""
    import torch

    from genprior import __version__
    from genprior.atomic import write_json_atomic
    from genprior.data.io import load_images, parse_indices
    from genprior.experiments.reconstruction import run_reconstruction
    from genprior.methods import get_method
    from genprior.methods.tuning import parse_grid
    from genprior.models.checkpoint import load_model
    from genprior.devices import device_for_shard
    from genprior.parallel import start, stop
    from genprior.validation import check_choice, check_nonnegative

    spec = get_method(method)
    check_choice(problem, tuple(PROBLEMS), "problem")
    check_nonnegative(noise, "--noise")
    lam_value = parse_lam(lam)
    if lam_grid is not None and lam_value != "auto":
        raise ValueError("--lam-grid is for --lam auto")
    grid = parse_grid([f"lam={lam_grid}"])["lam"] if lam_grid is not None else None
    options = {"lam": lam_value, "mu": mu, "max_iter": max_iter, "latent_prior": latent_prior, "restarts": restarts,
               "x_init": x_init, "coordinates": coordinates, "x_steps": x_steps}
    if spec.needs_generator:
        options.update(init=init, seed=seed)
    params = method_params(method, options)
    generator = load_model(model) if model is not None else None
    images = load_images(data, split)
    picked = parse_indices(indices if indices is not None else f"0:{min(100, images.shape[0])}", images.shape[0])
    truth = images[picked]
    physics = make_problem(problem, int(truth.shape[-1]), angles, angle_range, measurements, keep, kernel_size,
                           kernel_width, operator_seed)
    shard = start()
    try:
        where = device_for_shard(device, shard.world)
        physics, truth = physics.to(where), truth.to(where)
        generator = generator.to(where) if generator is not None else None
        summary, x = run_reconstruction(
            physics, truth, picked, method, generator, params, noise=noise, seed=seed, shard=shard, lam_grid=grid,
            max_batch=max_batch, problem=problem, operator=physics.extra_repr(),
            data=str(data), split=split, model=str(model) if model is not None else None, device=str(where),
            versions={"genprior": __version__, "torch": torch.__version__},
        )
    finally:
        stop(shard)
    if not shard.is_main:
        return
    write_json_atomic(out, summary)
    if figure is not None:
        from genprior.evaluation.figures import reconstruction_grid
        from genprior.evaluation.metrics import psnr

        reconstruction_grid(truth, {method: x}, {method: psnr(x.to(truth.dtype), truth)}, figure)
    p = summary["psnr"]
    procs = f", {shard.world} processes" if shard.world > 1 else ""
    typer.echo(f"{method} on {problem} ({len(picked)} images, sigma {noise}{procs}): PSNR {p['mean']:.2f} +- "
               f"{p['std']:.2f} dB (data range 1), {summary['seconds_per_image']:.3f} s/image; wrote {out}")
