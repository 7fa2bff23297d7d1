"""Small checks the dense operators share (dtype agreement of inputs and buffers)."""

from __future__ import annotations

import torch
from torch import Tensor


def check_same_dtype(name: str, held: torch.dtype, t: Tensor) -> None:
    """Raise ``TypeError`` unless ``t`` has the dtype ``held`` of the operator's buffers."""
    if t.dtype != held:
        raise TypeError(
            f"{name} holds {held} tensors but got a {t.dtype} tensor; "
            f"convert one of them (e.g. op.double() or op.to(x.dtype))"
        )
