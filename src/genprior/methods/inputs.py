"""Fix a method's random starting values as tensors, so that they no longer depend on the batch.

A method draws its random starts (``z ~ N(0, I)``, ``x`` pixels ``~ N(0, 1)``) for the
whole batch from one seed, so image ``b``'s start depends on which images share its
batch.  Whenever the same image is solved in a different batch (every point of a
parameter grid, a shard of a ``torchrun`` job, one image of a loop), first call
:func:`materialise_inputs` on the full set of images and then slice or repeat the
tensors with :func:`slice_inputs` / :func:`repeat_inputs`: every image then starts
from exactly the point a single run over the full set would have used.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from genprior.methods import get_method
from genprior.methods.common import check_generator, frozen, initial_image
from genprior.methods.restarts import initial_codes

IMAGE_STARTS = ("x_init", "u_init")


def materialise_inputs(method: str, physics, y: Tensor, generator: nn.Module | None,
                       params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with ``init`` (codes ``[K, B, d]``) and random ``x_init``/``u_init`` (``[B, ...]``) as tensors.

    The tensors are the ones the method would draw itself, by the one seed scheme of
    :mod:`genprior.methods.parameters`.  ``params`` are checked against the method's
    parameter dataclass first.
    """
    entry = get_method(method)
    chosen = entry.parameters.create(params, f"method {method!r}").values()
    out = dict(params)
    if entry.needs_generator:
        with frozen(generator):
            check_generator(generator, physics, y, method)
            out["init"] = initial_codes(generator, physics, y, chosen["init"], chosen["seed"], chosen["restarts"])
    for name in IMAGE_STARTS:
        if isinstance(chosen.get(name), str) and chosen[name] == "random":
            out[name] = initial_image(physics, y, "random", chosen["seed"], ("random",), name=name[0])
    return out


def start_choices(method: str, params: dict[str, Any]) -> dict[str, str]:
    """The named starting points (``init``, ``x_init``, ``u_init``) ``params`` asks ``method`` for.

    :func:`materialise_inputs` turns them into tensors, so the method itself records
    ``"tensor"``; a run's record uses these names instead (``"random"``, ``"encoder"``, ...).
    """
    defaults = get_method(method).defaults()
    chosen = {name: params.get(name, defaults[name]) for name in ("init", *IMAGE_STARTS) if name in defaults}
    return {name: value for name, value in chosen.items() if isinstance(value, str)}


def _is_per_image(value: Any, B: int) -> bool:
    return isinstance(value, Tensor) and value.dim() > 0 and value.shape[0] == B


def slice_inputs(params: dict[str, Any], rows: Tensor | list[int], B: int) -> dict[str, Any]:
    """Keep the images ``rows`` of every per-image value (codes ``[K, B, d]`` on their second axis)."""
    rows = torch.as_tensor(rows, dtype=torch.long)
    out = {}
    for k, v in params.items():
        if k == "init" and isinstance(v, Tensor) and v.dim() == 3:
            out[k] = v[:, rows.to(v.device)]
        elif _is_per_image(v, B):
            out[k] = v[rows.to(v.device)]
        else:
            out[k] = v
    return out


def repeat_inputs(params: dict[str, Any], G: int, B: int) -> dict[str, Any]:
    """Repeat every per-image value ``G`` times (point-major), for ``G`` grid points of ``B`` images."""
    out = {}
    for k, v in params.items():
        if k == "init" and isinstance(v, Tensor) and v.dim() == 3:
            out[k] = v.repeat(1, G, 1)
        elif _is_per_image(v, B):
            out[k] = v.repeat(G, *([1] * (v.dim() - 1)))
        else:
            out[k] = v
    return out
