"""The torch device named on the command line: ``cpu`` or ``cuda`` (``cuda:K``).

``--device cuda`` on a machine without a usable GPU is a user error with a message that
says why (a CPU-only build of torch, or no visible GPU), not a CUDA traceback.  Under
``torchrun`` each process takes the GPU of its local rank.
"""

from __future__ import annotations

import torch

from genprior.errors import InputError


def resolve_device(name: str, local_rank: int | None = None) -> torch.device:
    """``torch.device`` for ``name``; ``cuda`` becomes ``cuda:local_rank`` when one is given.

    Raises:
        ValueError: an unknown name, or a CUDA device where CUDA is not available.
    """
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            built = "without CUDA" if torch.version.cuda is None else f"with CUDA {torch.version.cuda}, but no GPU is visible"
            raise InputError(f"`device={name!r}` was requested but CUDA is not available (torch "
                             f"{torch.__version__} was built {built}); use `device='cpu'`")
        if local_rank is not None:
            torch.cuda.set_device(local_rank)
            return torch.device("cuda", local_rank)
        return torch.device(name)
    raise InputError(f"unknown device {name!r}; choose cpu or cuda")

