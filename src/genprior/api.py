"""The calls a script needs, in one place: ``import genprior as gp`` then ``gp.solve(...)``.

A reconstruction in five lines::

    import genprior as gp
    A = gp.operator("tomography", 56)                  # y = A x + noise, ||A|| = 1
    G = gp.load_model("runs/shapes-vae")               # any G: [B, d] -> [B, 1, n, n] works
    y = gp.measure(A, x_true, noise=0.1, seed=0)
    result = gp.solve("hard", A, y, G, lam=0.01)       # min_z ||A G(z) - y||^2 + lam ||z||^2
    print(gp.psnr(result.x, x_true), result.n_converged)

Everything here is a thin, documented entry point to the sub-packages (which stay
importable on their own); ``genprior/__init__.py`` loads this module lazily, so
``import genprior`` stays fast.
"""

from __future__ import annotations

from typing import Any

from genprior.experiments.reconstruction import measure
from genprior.methods import METHODS, solve
from genprior.metrics import nrmse, psnr, ssim
from genprior.models.checkpoint import load_model
from genprior.models.kinds import MODEL_KINDS
from genprior.physics.operator import LinearOperator, LinearPhysics
from genprior.physics.problems import PROBLEMS, make_operator
from genprior.solvers.result import Result


def operator(problem: str, image_size: int, **options: Any) -> LinearOperator:
    """The forward operator ``A`` of a named problem, rescaled to ``||A|| = 1``.

    ``problem`` is a key of :data:`PROBLEMS` (``tomography``, ``sparse-view``,
    ``limited-angle``, ``cs``, ``deconvolution``, ``inpainting``, ``denoising``);
    ``options`` are the problem's own (``angles``, ``measurements``, ``kernel_size``, ...).
    ``y = A x + sigma e`` then means the same noise level ``sigma`` on every problem.
    """
    return make_operator(problem, image_size, **options)


__all__ = ["METHODS", "MODEL_KINDS", "PROBLEMS", "LinearPhysics", "Result", "load_model", "measure", "nrmse", "operator",
           "psnr", "solve", "ssim"]
