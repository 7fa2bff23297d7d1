"""genprior: generative regularisers for imaging inverse problems.

Import what you need from the sub-packages (``genprior.physics``, ``genprior.methods``,
``genprior.models``, ...); this top-level module stays light so ``import genprior`` is fast.
"""

from __future__ import annotations

import os

# OpenMP threads that spin while waiting stall every torch op when another process
# shares the cores (10x slower sparse products on a busy 2-core machine); passive
# waiting costs nothing when the machine is idle.  Read once, when torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
