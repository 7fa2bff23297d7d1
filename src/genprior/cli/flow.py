"""``genprior fit-flow --model DIR --data DATA``: fit a latent density for the ``flow`` latent prior.

The flow (:mod:`genprior.models.latent_flow`) is fitted to the encoder's codes of the
data's train split and saved into the model directory as ``latent_flow.safetensors`` and
``latent_flow.json``, which :func:`~genprior.models.checkpoint.load_model` then attaches;
``--latent-prior flow`` uses it.  Existing flow files are replaced only with ``--force``.
The fit's options and the flow's shape are generated from
:class:`~genprior.models.latent_flow.FitSettings` and
:class:`~genprior.models.latent_flow.FlowArchitecture`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import typer

from genprior.cli.app import app
from genprior.cli.generated import Generated, with_options
from genprior.models.latent_flow import ARCHITECTURE_DEFAULTS, FitSettings, FlowArchitecture


def _shown_default(entry: str, field: dataclasses.Field) -> Any:
    return ARCHITECTURE_DEFAULTS.get(field.name, field.default)


FIT = Generated("flow fit", {"flow": FitSettings})
ARCHITECTURE = Generated("flow architecture", {"flow": FlowArchitecture}, defaults=_shown_default)


@app.command("fit-flow")
@with_options(FIT, ARCHITECTURE)
def fit_flow_command(
    model: Path = typer.Option(..., "--model", help="Checkpoint directory of a model with an encoder (AE, VAE); "
                               "the flow files are written into it."),
    data: Path = typer.Option(..., "--data", help="Training data (.npz made by `genprior data`); uses its train "
                              "split (the images the model was trained on)."),
    n: int = typer.Option(None, "--n", help="Use the first N training images (default: all)."),
    force: bool = typer.Option(False, "--force", help="Replace the flow files already in --model."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress lines."),
    **options: Any,  # FitSettings and FlowArchitecture fields (genprior.cli.generated)
) -> None:
    """Fit a normalising flow p(z) to the encoder's codes of the training images (the `flow` latent prior)."""
    from genprior.data.io import load_dataset_meta, load_images
    from genprior.errors import InputError
    from genprior.locks import RunLock
    from genprior.models.checkpoint import load_model
    from genprior.models.latent_flow import fit_latent_flow
    from genprior.models.latent_flow_files import FLOW_CONFIG, FLOW_WEIGHTS, save_latent_flow
    from genprior.outputs import check_output_file

    fit = FIT.values("flow", options)
    architecture = FlowArchitecture(**ARCHITECTURE.values("flow", options))
    if n is not None and n < 2:
        raise InputError(f"--n must be at least 2 (the fit keeps some codes out), got {n}")
    outputs = [model / FLOW_WEIGHTS, model / FLOW_CONFIG]
    for path in outputs:  # the flow files are this command's outputs inside its input directory, on purpose
        check_output_file(path, force=force, inputs=(data,), label="flow file", force_hint="--force")
    G = load_model(model, latent_flow=False)  # the flow being replaced (with --force) need not load
    images = load_images(data, "train")
    images = images[:n] if n is not None else images
    with RunLock(model):
        from genprior.atomic import new_outputs

        with new_outputs(*outputs, replace=force):
            flow = fit_latent_flow(G, images, architecture=architecture, log=None if quiet else typer.echo, **fit)
            meta = load_dataset_meta(data)
            flow.record["data"] = {"path": str(data), "n_images": int(images.shape[0]),
                                   **{k: v for k, v in meta.items() if k in ("dataset", "seed")}}
            save_latent_flow(flow, model)
    ll = flow.record["log_likelihood"]["held_out"]
    typer.echo(f"fitted a {flow.architecture.transform.upper()} flow on R^{flow.latent_dim} to "
               f"{flow.record['fit']['n_train']} codes in {flow.record['fit']['seconds']:.1f} s; held-out mean "
               f"log p(z): flow {ll['flow']:.3f}, N(0, I) {ll['standard_normal']:.3f}, diagonal Gaussian "
               f"{ll['diagonal_gaussian']:.3f} (nats); saved {outputs[0]} and {outputs[1]}")

