"""Beyond the paper: denoiser and diffusion priors beside the paper's generators, one protocol.

Figure 9's setting (MNIST compressed sensing, m = 150, sigma 0.05) and Figure 10's
(Shapes tomography, sigma 0.1), tuned on the same 20 images and tested on the same 100
with the same noise as the tables (:mod:`.protocol`).  New cells:

- a noise-conditional denoiser ``D(x, sigma)`` trained on the data set's training images
  (the compact denoiser recipe, :meth:`.assets.Assets.denoiser`) drives ``pnp`` (DPIR's
  half-quadratic splitting), ``red`` (RED-PG, run to its stopping rule), ``diffpir``,
  ``ddrm`` (where the operator has an exact SVD: compressed sensing) and ``dps`` (MNIST);
  the samplers draw :data:`SAMPLES` samples per image in one batch and return their mean;
- the VAE's hard and relaxed from the encoder with the ``flow`` latent prior
  (``-log p(z)`` of a normalising flow fitted to the encoder's codes of the training
  images, :mod:`genprior.models.latent_flow`) in place of ``mu ||z||^2``.

The rows the finished experiments already hold are read, not recomputed: TV, Tikhonov and
the VAE's hard and relaxed from random codes (``fig9``, ``fig10``), and from the encoder
(``encoder``).  The report (:mod:`.priors_report`) puts every prior side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from genprior.experiments.paper.protocol import Protocol, run_cell
from genprior.experiments.paper.runner import Context, pixels
from genprior.experiments.paper.tables import MNIST_CS, SHAPES_TOMOGRAPHY, TableSetup, split

SAMPLES = 4  # posterior samples per image of diffpir, ddrm and dps (the estimate is their mean)
FLOW_STEPS = 1000  # Adam steps of the latent flow's fit (genprior fit-flow's default)
EXAMPLES = 6  # images kept per cell for the examples figure


@dataclass(frozen=True)
class PriorsSetup:
    """One setting: the table it extends and the denoiser methods that apply to its operator."""

    table: TableSetup
    read_from: str
    title: str
    denoiser_methods: tuple[str, ...]


SETUPS = (
    PriorsSetup(MNIST_CS, "fig9", "MNIST compressed sensing (m = 150, sigma 0.05; Figure 9's setting)",
                ("pnp", "red", "diffpir", "ddrm", "dps")),
    PriorsSetup(SHAPES_TOMOGRAPHY, "fig10", "Shapes tomography (sigma 0.1; Figure 10's setting)",
                ("pnp", "red", "diffpir")),
)
FLOW_METHODS = ("hard", "relaxed")
SAMPLERS = ("diffpir", "ddrm", "dps")


def model_facts(model: torch.nn.Module, config: dict[str, Any]) -> dict[str, Any]:
    """Parameters and training minutes of a trained model (from its checkpoint's record)."""
    training = config.get("training", {})
    return {"parameters": sum(p.numel() for p in model.parameters()),
            "training_minutes": round(float(training.get("seconds", 0.0)) / 60, 1),
            "training_steps": training.get("steps_done")}


def flow_model(ctx: Context, dataset: str, latent_dim: int) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The VAE of ``dataset`` with a latent flow attached: fitted to its training images' codes
    and saved beside it the first time (``latent_flow.json``), loaded afterwards."""
    from genprior.models.checkpoint import load_model
    from genprior.models.latent_flow import fit_latent_flow
    from genprior.models.latent_flow_files import save_latent_flow

    model = ctx.assets.model(dataset, "vae", latent_dim)
    directory = ctx.assets.model_dir(dataset, "vae", latent_dim)
    if getattr(model, "latent_flow", None) is None:
        ctx.assets.log(f"  {ctx.directory.name}: fitting the latent flow of {directory.name} ({FLOW_STEPS} steps)")
        flow = fit_latent_flow(model, ctx.assets.data(dataset)["train"], steps=FLOW_STEPS, seed=0)
        save_latent_flow(flow, directory)
        model = load_model(directory, ctx.assets.device)
    return model, dict(model.latent_flow.record)


def _cell(ctx: Context, setup: PriorsSetup, key: str, method: str, model, protocol: Protocol,
          **fixed: Any) -> dict[str, Any]:
    table = setup.table
    tune, test, indices = split(ctx, table.dataset)
    from genprior.physics.problems import make_operator

    physics = make_operator(table.problem, int(test.shape[-1]), **table.options)

    def compute() -> dict[str, Any]:
        record, x = run_cell(physics, tune, test, indices, method, model(), table.noise, protocol, **fixed)
        record["examples"] = pixels(x[:EXAMPLES].reshape(x[:EXAMPLES].shape[0], -1))
        return record

    return ctx.part(f"{table.dataset}-{key}", compute)


def setting_cells(ctx: Context, setup: PriorsSetup) -> dict[str, dict[str, Any]]:
    """The new cells of one setting (cached one by one): the flow-prior VAE cells, then the denoiser methods."""
    from genprior.models.checkpoint import read_config

    table, cells = setup.table, {}
    encoder = replace(ctx.protocol, init="encoder")
    for method in FLOW_METHODS:
        cells[f"vae-{method}-flow"] = _cell(
            ctx, setup, f"vae-{method}-flow", method, lambda: flow_model(ctx, table.dataset, table.latent_dim)[0],
            encoder, latent_prior="flow")
    for method in setup.denoiser_methods:
        extra = {"samples": SAMPLES} if method in SAMPLERS else {}
        cells[method] = _cell(ctx, setup, method, method, lambda: ctx.assets.denoiser(table.dataset),
                              ctx.protocol, **extra)
    denoiser = ctx.assets.denoiser(table.dataset)
    facts = {"denoiser": model_facts(denoiser, read_config(ctx.assets.denoiser_dir(table.dataset)))}
    vae = ctx.assets.model(table.dataset, "vae", table.latent_dim)
    facts["vae"] = model_facts(vae, read_config(ctx.assets.model_dir(table.dataset, "vae", table.latent_dim)))
    model, flow_record = flow_model(ctx, table.dataset, table.latent_dim)
    facts["flow"] = {"parameters": sum(p.numel() for p in model.latent_flow.parameters()),
                     "fit_seconds": flow_record.get("seconds"), "log_likelihood": flow_record.get("log_likelihood")}
    return {"cells": cells, "facts": facts}


def priors(ctx: Context) -> dict[str, Any]:
    """Every prior side by side on Figures 9 and 10's problems; the report section and examples figures."""
    from genprior.experiments.paper.priors_report import priors_markdown, priors_verdicts

    results = {}
    for setup in SETUPS:
        new = setting_cells(ctx, setup)
        read = ctx.reads[setup.read_from]["cells"]
        from_encoder = ctx.reads["encoder"]["cells"][setup.table.dataset]
        results[setup.table.dataset] = {"new": new["cells"], "facts": new["facts"], "read": read,
                                        "encoder": from_encoder}
        _examples_figure(ctx, setup, new["cells"])
    return {"settings": {s.table.dataset: {"problem": s.table.problem, "options": s.table.options,
                                           "noise": s.table.noise, "methods": list(s.denoiser_methods)}
                         for s in SETUPS},
            "samples_per_image": SAMPLES,
            "cells": {d: {k: {kk: vv for kk, vv in c.items() if kk != "examples"} for k, c in r["new"].items()}
                      for d, r in results.items()},
            "facts": {d: r["facts"] for d, r in results.items()},
            "verdicts": priors_verdicts(results),
            "markdown": priors_markdown(ctx, SETUPS, results)}


def _examples_figure(ctx: Context, setup: PriorsSetup, cells: dict[str, dict[str, Any]]) -> None:
    from genprior.figures import reconstruction_grid

    test = split(ctx, setup.table.dataset)[1]
    shown = [*setup.denoiser_methods, "vae-hard-flow"]
    columns = {k: torch.tensor(cells[k]["examples"]).reshape(-1, *test.shape[1:]) for k in shown}
    n = min(EXAMPLES, test.shape[0])
    reconstruction_grid(test[:n], columns, {k: torch.tensor(cells[k]["per_image_psnr"][:n]) for k in shown},
                        ctx.directory / f"examples-{setup.table.dataset}.png")


__all__ = ["SETUPS", "SAMPLES", "priors"]
