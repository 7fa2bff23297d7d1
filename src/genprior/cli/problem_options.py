"""Options and helpers that ``genprior reconstruct`` and ``genprior tune`` share.

The problem, method and solver options are the same in both commands, so each is
defined once here; the help of ``--problem`` and ``--method`` is built from the
registries, so a newly registered problem or method shows up in ``--help``.
"""

from __future__ import annotations

import inspect
import math
import os
from typing import Any

import typer

from genprior.methods import METHODS
from genprior.physics.problems import PROBLEMS


def _one_of(names) -> str:
    names = list(names)
    return ", ".join(names[:-1]) + " or " + names[-1]


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
    from genprior.methods import check_param_values, get_method

    spec = get_method(method)
    accepted = set(inspect.signature(spec.function).parameters)
    given = {k: v for k, v in options.items() if v is not None}
    if "x_init" in given and "x_init" not in accepted and "u_init" in accepted:
        given["u_init"] = given.pop("x_init")  # sparse methods start u, not x
    unused = sorted(set(given) - accepted)
    if unused:
        flags = ", ".join("--" + k.replace("_", "-") for k in unused)
        raise ValueError(f"method {method!r} does not take {flags}")
    for name in ("max_iter", "x_steps", "restarts"):
        if name in given and given[name] < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {given[name]}")
    check_param_values(method, {k: v for k, v in given.items() if k in ("lam", "mu") and v != "auto"})
    return given


def check_max_batch(max_batch: int, restarts: int | None) -> None:
    """``--max-batch`` >= 1, and at least ``--restarts`` (one image's starts are solved together)."""
    if max_batch < 1:
        raise ValueError(f"--max-batch must be >= 1, got {max_batch}")
    if restarts is not None and restarts > max_batch:
        raise ValueError(f"--restarts {restarts} exceeds --max-batch {max_batch}: the starts of one image are "
                         "solved together; use fewer restarts or raise --max-batch (memory grows with it)")


def check_outputs(out, figure, force: bool, data, model) -> None:
    """``--out`` (and ``--figure``) may be written: checked before any work (:mod:`genprior.outputs`)."""
    from genprior.outputs import check_output_file

    inputs = (data, model)
    check_output_file(out, force=force, inputs=inputs, label="--out", force_hint="--force")
    if figure is not None:
        check_output_file(figure, force=force, inputs=inputs, label="--figure", force_hint="--force")
        if os.path.abspath(figure) == os.path.abspath(out):
            raise ValueError("--figure and --out name the same file")


def make_problem(problem: str, image_size: int, angles, angle_range, measurements, keep, kernel_size, kernel_width,
                 operator_seed):
    """The normalised operator of ``--problem`` and its options (``make_operator`` checks the name)."""
    from genprior.physics.problems import make_operator

    return make_operator(problem, image_size, angles=angles, angle_range=_parse_range(angle_range),
                         measurements=measurements, keep=keep, kernel_size=kernel_size, kernel_width=kernel_width,
                         seed=operator_seed)



PROBLEM = typer.Option("tomography", "--problem", help=PROBLEM_HELP)
METHOD = typer.Option(..., "--method", help=METHOD_HELP)
DATA = typer.Option(..., "--data", help="Data set (.npz made by `genprior data`).")
MODEL = typer.Option(None, "--model", help="Checkpoint directory (needed by the generative methods).")
SPLIT = typer.Option("test", "--split", help="Which split of the data file: test or train.")
NOISE = typer.Option(0.1, "--noise", help="Noise standard deviation sigma (operator has norm 1).")
LATENT_PRIOR = typer.Option(None, "--latent-prior", help="R_Z: l2, box, sphere, critic (GAN) or tv.")
RESTARTS = typer.Option(None, "--restarts", help="Starts per image, best final objective kept (default 1).")
INIT = typer.Option("random", "--init", help="Latent initialisation: random or encoder.")
COORDINATES = typer.Option(None, "--coordinates", help="Relaxed: x (Algorithm 2) or u (x = G(z) + u).")
MAX_ITER = typer.Option(None, "--max-iter", help="Iteration limit (method default if omitted).")
ANGLES = typer.Option(None, "--angles", help="Tomography: number of angles (default: ODL's).")
ANGLE_RANGE = typer.Option(None, "--angle-range", help="Tomography: angle range, e.g. 0:90deg.")
MEASUREMENTS = typer.Option(None, "--measurements", help="Compressed sensing: number of measurements m.")
KEEP = typer.Option(None, "--keep", help="Inpainting: fraction of pixels kept.")
KERNEL_SIZE = typer.Option(None, "--kernel-size", help="Deconvolution: Gaussian kernel size.")
KERNEL_WIDTH = typer.Option(None, "--kernel-width", help="Deconvolution: Gaussian kernel standard deviation.")
OPERATOR_SEED = typer.Option(None, "--operator-seed", help="Seed of random operators (CS matrix, mask, angles).")
DEVICE = typer.Option("cpu", "--device", help="cpu or cuda (cuda:LOCAL_RANK under torchrun).")
