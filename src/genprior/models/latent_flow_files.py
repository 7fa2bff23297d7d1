"""A latent flow beside its model: ``latent_flow.safetensors`` + ``latent_flow.json`` in the checkpoint.

``latent_flow.json`` holds the latent dimension, the flow's architecture, its fit record
and the SHA-256 of the weights file; the weights are read with safetensors (nothing is
unpickled).  Loading rebuilds the flow from the JSON and refuses, with one line, a file
pair that does not belong together (another fit's weights, a crash between the two
writes), weights that do not fit the architecture, structure buffers (the autoregressive
masks and orders) that differ from the ones the architecture defines, non-finite
weights, or a flow of another latent dimension than the model's.  Both files are written
atomically, the weights first.

:func:`genprior.models.checkpoint.load_model` calls :func:`load_latent_flow` and attaches
the flow as ``model.latent_flow`` (:func:`attach_latent_flow`); the flow is kept out of the
model's own ``state_dict``, so the model's checkpoint is unchanged by it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genprior.errors import InputError
from genprior.models.latent_flow import FlowArchitecture, LatentFlow

FLOW_WEIGHTS = "latent_flow.safetensors"
FLOW_CONFIG = "latent_flow.json"
FLOW_FORMAT = "genprior-latent-flow"


def _sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_latent_flow(flow: LatentFlow, directory: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``flow`` into ``directory`` as :data:`FLOW_WEIGHTS` and :data:`FLOW_CONFIG`, each atomically.

    Returns:
        The paths of the weights and of the JSON file.
    """
    import zuko

    from genprior import __version__
    from genprior.atomic import atomic_path, write_json_atomic
    from genprior.models.checkpoint import write_safetensors

    directory = Path(directory)
    weights, config = directory / FLOW_WEIGHTS, directory / FLOW_CONFIG
    state = {k: v.detach().to("cpu", torch.float32 if v.is_floating_point() else v.dtype).contiguous()
             for k, v in flow.state_dict().items()}
    with atomic_path(weights) as tmp:
        write_safetensors(state, tmp, {"format": FLOW_FORMAT})
        digest = _sha256(tmp)
    write_json_atomic(config, {
        "format": FLOW_FORMAT, "format_version": 1, "latent_dim": flow.latent_dim,
        "architecture": flow.architecture.to_dict(), **flow.record, "weights_sha256": digest,
        "versions": {"genprior": __version__, "torch": torch.__version__, "zuko": zuko.__version__}})
    return weights, config


def read_flow_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check :data:`FLOW_CONFIG`."""
    from genprior.readfiles import open_input

    try:
        with open_input(path, "latent flow config") as fh:
            config = json.loads(fh.read().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(f"{path}: corrupt latent flow config ({type(exc).__name__}: {exc})") from None
    if not isinstance(config, dict) or config.get("format") != FLOW_FORMAT:
        raise InputError(f"{path}: not a genprior latent flow config (no format {FLOW_FORMAT!r})")
    if not isinstance(config.get("architecture"), dict) or not isinstance(config.get("weights_sha256"), str):
        raise InputError(f"{path}: the latent flow config lacks its architecture or weights_sha256 entry")
    return config


def load_latent_flow(directory: str | os.PathLike, latent_dim: int | None = None) -> LatentFlow | None:
    """The flow saved in ``directory`` (``None`` if it holds neither flow file), in evaluation mode.

    Args:
        directory: a checkpoint directory.
        latent_dim: the model's latent dimension; a flow of another dimension is refused.

    Raises:
        InputError: one of the two files is missing, or they are corrupt, tampered with or
            do not belong together, or the flow does not fit the model.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from genprior.models.checkpoint import check_state_fits
    from genprior.readfiles import check_input_file
    from genprior.resources import check_memory

    directory = Path(directory)
    weights, config_path = directory / FLOW_WEIGHTS, directory / FLOW_CONFIG
    present = [os.path.lexists(p) for p in (weights, config_path)]
    if not any(present):
        return None
    if not all(present):
        have, lack = (FLOW_WEIGHTS, FLOW_CONFIG) if present[0] else (FLOW_CONFIG, FLOW_WEIGHTS)
        raise InputError(f"{directory} has {have} but no {lack}: refit the flow with `genprior fit-flow --force`, "
                         f"or remove {have}")
    config = read_flow_config(config_path)
    dim = config.get("latent_dim")
    if isinstance(latent_dim, int) and dim != latent_dim:
        raise InputError(f"{config_path}: the latent flow is a density on R^{dim} but the model's latent dimension "
                         f"is {latent_dim}: it was fitted to another model; refit it with `genprior fit-flow --force`")
    try:
        arch = FlowArchitecture(**config["architecture"])
    except TypeError as exc:
        raise InputError(f"{config_path}: bad latent flow architecture ({exc})") from None
    check_input_file(weights, "latent flow weights")
    check_memory(8.0 * os.path.getsize(weights), f"the latent flow {weights}")
    if _sha256(weights) != config["weights_sha256"]:
        raise InputError(f"{weights} is not the file {FLOW_CONFIG} describes (its SHA-256 differs): the two files "
                         "come from different fits or one was changed; refit with `genprior fit-flow --force`")
    flow = LatentFlow(dim, arch)
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(f"{weights}: corrupt latent flow weights ({exc})") from None
    check_state_fits(flow, state, weights)
    parameters = {name for name, _ in flow.named_parameters()}
    for name, buffer in flow.state_dict().items():  # masks, orders and the base N(0, I) are fixed by arch
        if name not in parameters and name not in ("shift", "log_scale") and not torch.equal(state[name], buffer):
            raise InputError(f"{weights}: the flow's structure tensor {name} differs from the one its architecture "
                             "defines (a tampered file); refit with `genprior fit-flow --force`")
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise InputError(f"{weights}: the latent flow holds NaN or Inf values ({bad[0]}); refit it")
    flow.load_state_dict(state, strict=True)
    flow.record = {k: config[k] for k in ("fit", "log_likelihood", "data") if k in config}
    return flow.eval().requires_grad_(False)


def attach_latent_flow(model: nn.Module, flow: LatentFlow | None) -> nn.Module:
    """Set ``model.latent_flow = flow`` without registering it as a submodule: the model's
    ``state_dict`` (its checkpoint) stays its own; the flow follows ``z`` to its device."""
    object.__setattr__(model, "latent_flow", flow)
    return model


__all__ = ["FLOW_CONFIG", "FLOW_WEIGHTS", "attach_latent_flow", "load_latent_flow", "read_flow_config",
           "save_latent_flow"]
