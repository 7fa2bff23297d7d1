"""genprior: generative regularisers for imaging inverse problems.

``import genprior as gp`` gives the calls a script needs (:mod:`genprior.api`):
``gp.operator``, ``gp.measure``, ``gp.load_model``, ``gp.solve``, ``gp.psnr`` (also
``gp.nrmse``, ``gp.ssim``) and the registries ``gp.METHODS``, ``gp.PROBLEMS`` and ``gp.MODEL_KINDS``.  They
load on first use, so ``import genprior`` itself stays fast; the sub-packages
(``genprior.physics``, ``genprior.methods``, ``genprior.models``, ...) hold the rest.
"""

from __future__ import annotations

import os

# OpenMP threads that spin while waiting stall every torch op when another process
# shares the cores (10x slower sparse products on a busy 2-core machine); passive
# waiting costs nothing when the machine is idle.  Read once, when torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

_API = ("METHODS", "MODEL_KINDS", "PROBLEMS", "LinearPhysics", "Result", "load_model", "measure", "nrmse", "operator", "psnr",
        "solve", "ssim")


def __getattr__(name: str):
    """Load :mod:`genprior.api` on the first use of one of its names."""
    if name in _API:
        import importlib

        return getattr(importlib.import_module("genprior.api"), name)  # loaded on first use only
    raise AttributeError(f"module 'genprior' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
