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

from torch import Tensor, nn

from genprior.experiments.reconstruction import measure
from genprior.methods import METHODS, get_method
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


def solve(method: str, physics: LinearPhysics, y: Tensor, generator: nn.Module | None = None,
          **params: Any) -> Result:
    """Reconstruct a batch ``x`` from ``y = A x + noise`` with a registered method.

    Methods (:data:`METHODS`) and their objectives (``G`` the generator, ``x = G(z) + u``):

    - ``hard``: ``min_z ||A G(z) - y||^2 + lam ||z||^2``;
    - ``relaxed``: ``min_{x,z} ||A x - y||^2 + lam ||G(z) - x||^2 + lam mu ||z||^2``;
    - ``sparse`` / ``sparse-tv``: ``min_{z,u} ||A (G(z) + u) - y||^2 + lam (F(u) + mu ||z||^2)``
      with ``F = ||.||_1`` or ``TV``;
    - ``pgd``: projected gradient onto the range of ``G`` (equation (8));
    - ``tikhonov``: ``min_x ||A x - y||^2 + lam ||x||^2``; ``tv``: ``... + lam TV(x)``.

    Every image is solved to its stopping rule (``result.converged`` says which did).

    Args:
        method: a key of :data:`METHODS`.
        physics: the forward operator (:func:`operator`, or any object with differentiable
            ``A`` and ``A_adjoint``, a DeepInverse physics included).
        y: measurements ``[B, *out_shape]``, one row per image.
        generator: ``G: [B, d] -> [B, 1, H, W]`` with ``latent_dim = d`` (generative methods only).
        **params: the fields of the method's parameter dataclass
            (``METHODS[method].parameters``: defaults, bounds and help of each); a number,
            or one value per image (a ``[B]`` tensor) so a grid is solved as one batch.

    Returns:
        A :class:`Result`: ``x`` ``[B, 1, H, W]``, ``z`` ``[B, d]`` and ``u`` where the method
        has them, per-image ``iterations`` and ``converged`` ``[B]``, the objective history
        ``[K + 1, B]``, ``seconds`` and the parameters used.

    Raises:
        ValueError: unknown method or parameter, a value out of bounds, or a generative
            method without a generator (a trained model or any torch module mapping
            ``[B, d]`` to ``[B, 1, H, W]`` with a ``latent_dim`` attribute).
    """
    return get_method(method).function(physics, y, generator=generator, **params)


__all__ = ["METHODS", "MODEL_KINDS", "PROBLEMS", "LinearPhysics", "Result", "load_model", "measure", "nrmse", "operator",
           "psnr", "solve", "ssim"]
