"""The calls a script needs, in one place: ``import genprior as gp`` then ``gp.solve(...)``.

A reconstruction in a few lines (``G`` here is an untrained VAE; a trained one comes from
``gp.load_model("runs/shapes-vae")``, and any ``G: [B, d] -> [B, 1, n, n]`` works):

>>> import torch
>>> import genprior as gp
>>> from genprior.data.shapes import make_shapes
>>> from genprior.models import create_model
>>> x_true = torch.from_numpy(make_shapes(2, seed=1))   # [2, 1, 56, 56] in [0, 1]
>>> A = gp.operator("tomography", 56)                    # y = A x + noise, ||A|| = 1
>>> G = create_model("vae", latent_dim=10, image_size=56)
>>> y = gp.measure(A, x_true, noise=0.1, seed=0)
>>> result = gp.solve("hard", A, y, G, lam=0.01)         # min_z ||A G(z) - y||^2 + lam ||z||^2
>>> result.x.shape, result.n_converged
(torch.Size([2, 1, 56, 56]), 2)
>>> gp.psnr(result.x, x_true).shape                      # one PSNR per image, data range 1
torch.Size([2])

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

    Args:
        problem: the problem's name.
        image_size: side ``n`` of the square images ``[B, 1, n, n]`` the operator takes.
        **options: the problem's options (``gp.PROBLEMS[problem]``'s fields: defaults, bounds, help).

    Returns:
        The operator, a ``torch.nn.Module`` with ``A(x)``: ``[B, 1, n, n] -> [B, *out_shape]``,
        ``A_adjoint(y)`` and ``norm()`` (1 up to the power iteration's tolerance).

    Raises:
        InputError: an unknown problem or option, a value out of its bounds, or an image
            size the problem cannot take.
    """
    return make_operator(problem, image_size, **options)


__all__ = ["METHODS", "MODEL_KINDS", "PROBLEMS", "LinearPhysics", "Result", "load_model", "measure", "nrmse", "operator",
           "psnr", "solve", "ssim"]
