"""Options and helpers that ``genprior reconstruct`` and ``genprior tune`` share.

The problem options and method parameters are generated from the registries
(:data:`genprior.physics.problems.PROBLEMS`, :data:`genprior.methods.METHODS`) by
:mod:`genprior.cli.generated`, so a newly registered problem or method, and each of its
options, shows up in ``--help`` with its valid values by itself.
"""

from __future__ import annotations

import os
from typing import Any, Literal

import typer

from genprior.cli.generated import Generated
from genprior.errors import InputError
from genprior.methods import METHODS
from genprior.physics.problems import PROBLEMS

ProblemName = Literal[tuple(PROBLEMS)]
MethodName = Literal[tuple(METHODS)]
Split = Literal["test", "train"]
PROBLEM_OPTIONS = Generated("problem", PROBLEMS)
METHOD_OPTIONS = Generated("method", {name: entry.parameters for name, entry in METHODS.items()})


def parse_lam(text: str | None) -> float | str | None:
    """``--lam``: a number or ``auto`` (discrepancy principle)."""
    if text is None or text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise InputError(f"--lam must be a number or 'auto', got {text!r}") from None


def method_params(method: str, options: dict[str, Any], **own: Any) -> dict[str, Any]:
    """The method's keyword arguments from the generated options and the command's ``own``
    values (``None`` = not given); errors name the flags.

    Raises ``ValueError`` naming the options the method does not take.
    """
    return METHOD_OPTIONS.values(method, {**options, **own})


def make_problem(problem: str, image_size: int, options: dict[str, Any]):
    """The normalised operator of ``--problem`` with its generated options (``None`` = the default)."""
    from genprior.physics.problems import make_operator

    return make_operator(problem, image_size, **PROBLEM_OPTIONS.values(problem, options))


def check_outputs(out, figure, force: bool, data, model) -> None:
    """``--out`` (and ``--figure``) may be written: checked before any work (:mod:`genprior.outputs`)."""
    from genprior.figures import check_figure_path
    from genprior.outputs import check_output_file

    inputs = (data, model)
    check_output_file(out, force=force, inputs=inputs, label="--out", force_hint="--force")
    if figure is not None:
        check_output_file(figure, force=force, inputs=inputs, label="--figure", force_hint="--force")
        check_figure_path(figure, "--figure")
        if os.path.abspath(figure) == os.path.abspath(out):
            raise InputError("--figure and --out name the same file")


def check_images(images, data) -> None:
    """The images of ``--data`` fit the problems: square, and large enough to be scored (before any work)."""
    from genprior.metrics import check_scorable

    h, w = int(images.shape[-2]), int(images.shape[-1])
    if h != w:
        raise InputError(f"--data {data}: the images are {h} x {w} pixels (height x width), not square; the problems "
                         "take square images: crop them, e.g. `genprior data folder --size N` centre-crops and resizes")
    check_scorable(images.shape, f"--data {data}: images")


PROBLEM = typer.Option("tomography", "--problem", help="Inverse problem.")
METHOD = typer.Option(..., "--method", help="Reconstruction method.")
DATA = typer.Option(..., "--data", help="Data set (.npz made by `genprior data`).")
MODEL = typer.Option(None, "--model", help="Checkpoint directory (needed by the generative methods).")
SPLIT = typer.Option("test", "--split", help="Which split of the data file.")
NOISE = typer.Option(0.1, "--noise", help="Noise standard deviation sigma (operator has norm 1).")
DEVICE = typer.Option("cpu", "--device", help="cpu or cuda (cuda:LOCAL_RANK under torchrun).")
