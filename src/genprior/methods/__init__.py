"""Reconstruction methods: ``method(physics, y, generator=None, **params) -> Result``.

Generative regularisers of the family ``R_G(x) = min_z F(G(z) - x) + R_Z(z)``
(equation (7) of the paper; objectives in :mod:`genprior.methods.generative`, latent
priors in :mod:`genprior.methods.latent_priors`), projected gradient descent
(equation (8)), the classical baselines, and priors given by a denoiser ``D(x, sigma)``
(:mod:`genprior.methods.denoiser_prior`): plug-and-play (pnp), regularisation by
denoising (red) and the diffusion samplers DiffPIR, DDRM and DPS.

The registry :data:`METHODS` maps a name to a :class:`Method`: the function and the
dataclass of its parameters (defaults, bounds, default tuning grids;
:mod:`genprior.methods.parameters`).  The tuning code and the command line read
everything else from there, so a new method is one module (its function and
parameter dataclass) plus one line below, or, from a package of its own, one
entry point in the group ``genprior.methods`` (:mod:`genprior.registry`).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from genprior.errors import InputError
from genprior.methods.classical import TikhonovParams, TVParams, tikhonov, tv
from genprior.methods.ddrm import DDRMParams, ddrm
from genprior.methods.diffpir import DiffPIRParams, diffpir
from genprior.methods.dps import DPSParams, dps
from genprior.methods.hard import HardParams, hard
from genprior.methods.parameters import GenerativeParams, MethodParams
from genprior.methods.pgd import PGDParams, pgd
from genprior.methods.pnp import PnPParams, pnp
from genprior.methods.red import REDParams, red
from genprior.methods.relaxed import RelaxedParams, relaxed
from genprior.methods.sparse import SparseParams, SparseTVParams, sparse, sparse_tv
from genprior.params import check_value, field_types, fields_with
from genprior.physics.operator import LinearPhysics
from genprior.registry import Registry
from genprior.solvers.result import Result


@dataclass(frozen=True)
class Method:
    """A registered method: its function and the dataclass of its parameters.

    A method needs a generator exactly when its parameters extend
    :class:`~genprior.methods.parameters.GenerativeParams` (they then hold the latent
    prior and the starting codes).
    """

    function: Callable[..., Result]
    parameters: type[MethodParams]

    @property
    def needs_generator(self) -> bool:
        return issubclass(self.parameters, GenerativeParams)

    @property
    def needs_denoiser(self) -> bool:
        """Whether the method takes a denoiser ``D(x, sigma)`` (``denoiser=``) as its prior."""
        return "denoiser" in inspect.signature(self.function).parameters

    @property
    def tunable(self) -> tuple[str, ...]:
        """The regularisation parameters: those with a default tuning grid (``lam``, ``mu``)."""
        return tuple(fields_with(self.parameters, "grid"))

    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default for f in dataclasses.fields(self.parameters)}

    def run(self, physics: LinearPhysics, y: Tensor, model: Any = None, **params: Any) -> Result:
        """Call the method with ``model`` as its prior: ``denoiser=`` for a method that takes a denoiser
        (unless one is given), ``generator=`` otherwise."""
        if self.needs_denoiser and "denoiser" not in params:
            return self.function(physics, y, generator=None, denoiser=model, **params)
        return self.function(physics, y, generator=model, **params)

    def problem_values(self, noise: float | None) -> dict[str, Any]:
        """The parameters a pipeline fills in from the problem: the noise level, for a method that needs it."""
        return {"noise_level": noise} if "noise_level" in self.defaults() and noise is not None else {}


METHODS: Registry[Method] = Registry("method", "genprior.methods", lambda e: isinstance(e, Method),
                                    "a genprior.methods.Method", {
    "hard": Method(hard, HardParams),
    "relaxed": Method(relaxed, RelaxedParams),
    "sparse": Method(sparse, SparseParams),
    "sparse-tv": Method(sparse_tv, SparseTVParams),
    "pgd": Method(pgd, PGDParams),
    "tikhonov": Method(tikhonov, TikhonovParams),
    "tv": Method(tv, TVParams),
    "pnp": Method(pnp, PnPParams),
    "red": Method(red, REDParams),
    "diffpir": Method(diffpir, DiffPIRParams),
    "ddrm": Method(ddrm, DDRMParams),
    "dps": Method(dps, DPSParams),
})


def get_method(name: str) -> Method:
    """The registered method ``name``; :class:`~genprior.errors.InputError` listing the choices otherwise."""
    return METHODS.get_entry(name)


def solve(method: str, physics: LinearPhysics, y: Tensor, generator: nn.Module | Any | None = None,
          **params: Any) -> Result:
    """Reconstruct a batch ``x`` from ``y = A x + noise`` with the registered ``method``.

    Methods (:data:`METHODS`) and their objectives (``G`` the generator, ``x = G(z) + u``,
    ``d(A x, y) = ||A x - y||^2`` unless a ``fidelity`` is given):

    - ``hard``: ``min_z d(A G(z), y) + lam ||z||^2``;
    - ``relaxed``: ``min_{x,z} d(A x, y) + lam ||G(z) - x||^2 + lam mu ||z||^2``;
    - ``sparse`` / ``sparse-tv``: ``min_{z,u} d(A (G(z) + u), y) + lam (F(u) + mu ||z||^2)``
      with ``F = ||.||_1`` or ``TV``;
    - ``pgd``: projected gradient onto the range of ``G`` (equation (8));
    - ``tikhonov``: ``min_x d(A x, y) + lam ||x||^2``; ``tv``: ``... + lam TV(x)``;
    - ``pnp``, ``red``: a denoiser ``D(x, sigma)`` as the prior (``denoiser=``); ``diffpir``,
      ``ddrm``, ``dps``: diffusion posterior samplers with that denoiser.

    Every image is solved to its stopping rule, or runs its fixed schedule (``result.converged``
    says which converged, ``result.ended`` how each ended).

    Args:
        method: a key of :data:`METHODS`.
        physics: the forward operator (:func:`genprior.api.operator`, or any object with
            differentiable ``A`` and ``A_adjoint``, a DeepInverse physics included).
        y: measurements ``[B, *out_shape]``, one row per image.
        generator: the prior model: ``G`` for the generative methods (a trained model, or any
            torch module mapping ``[B, d]`` to ``[B, 1, H, W]`` with a ``latent_dim`` attribute);
            the denoiser ``D(x, sigma)`` for the denoiser methods (or give it as ``denoiser=``).
        **params: the fields of the method's parameter dataclass
            (``METHODS[method].parameters``: defaults, bounds and help of each), and
            ``fidelity=`` (a :class:`~genprior.physics.fidelity.DataFidelity`) and ``callback=``
            (:func:`genprior.solvers.loop.iterate`), which every method takes.  A regularisation
            weight is a number, or one value per image (a ``[B]`` tensor) so a grid is solved as
            one batch.

    Returns:
        A :class:`~genprior.solvers.result.Result`: ``x`` ``[B, 1, H, W]``, ``z`` ``[B, d]`` and
        ``u`` where the method has them, per-image ``iterations``, ``converged`` and ``ended``,
        the ``history`` of the solver's statistics ``[R, B]`` (the objective among them),
        ``seconds`` and the parameters used.

    The memory the batch needs (images x restarts, the objective history over
    ``max_iter`` iterations) is checked before any work (:mod:`genprior.methods.sizes`).

    Raises:
        genprior.errors.InputError: unknown method or parameter, a value out of bounds, or a
            generative method without a generator.
        genprior.resources.ResourceLimitError: the solve would need more memory than the limit.
    """
    import math

    from genprior.methods.sizes import check_solve

    entry = get_method(method)
    if isinstance(y, Tensor) and y.dim() >= 1 and y.shape[0] > 0:  # memory of the whole batch, before any work
        shape = getattr(physics, "in_shape", None)
        latent = getattr(generator, "latent_dim", 0) if entry.needs_generator else 0
        check_solve(method, params, int(y.shape[0]), math.prod(shape) if shape else int(y[0].numel()),
                    latent if isinstance(latent, int) else 0)
    return entry.run(physics, y, generator, **params)


def check_param_values(name: str, values: dict[str, list[float] | float]) -> None:
    """Raise ``ValueError`` unless every value given for each parameter is within its bounds
    (``lam``, ``mu`` finite and ``>= 0``; TV's ``lam > 0``), before any solve."""
    cls = get_method(name).parameters
    fields, kinds = {f.name: f for f in dataclasses.fields(cls)}, field_types(cls)
    for param, given in values.items():
        if param not in fields:
            raise InputError(f"method {name!r} has no parameter {param!r}")
        for v in given if isinstance(given, (list, tuple)) else [given]:
            check_value(fields[param], kinds[param], v, param)


def within_bounds(name: str, param: str, value: float) -> bool:
    """Whether ``value`` is allowed for the parameter ``param`` of method ``name``
    (:func:`check_param_values` without the error)."""
    try:
        check_param_values(name, {param: value})
    except ValueError:
        return False
    return True


__all__ = ["METHODS", "Method", "check_param_values", "ddrm", "diffpir", "dps", "get_method", "hard", "pgd", "pnp",
           "red", "relaxed", "solve", "sparse", "sparse_tv", "tikhonov", "tv", "within_bounds"]
