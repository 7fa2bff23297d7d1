"""Data-fidelity terms ``d(A x, y)``: the one data term every method minimises.

Every method's objective is ``d(A x, y) + (its regulariser)``; the methods receive ``d``
as an object (``fidelity=``), so a new noise model is one subclass here, used by all of
them (as DeepInverse's ``DataFidelity``).  A fidelity gives

- its value per image, ``d(u, y)`` for ``u = A x`` (:meth:`DataFidelity.measured`; calling
  the object with ``(physics, x, y)`` applies ``A`` first), differentiable by autograd, so
  the gradient methods (backtracking, PALM) use it as it is;
- the proximal map of the convex conjugate, ``prox_{s d*(., y)}`` (:meth:`DataFidelity.prox_conjugate`),
  which PDHG (the TV method) needs;
- the data proximal step ``argmin_x gamma d(A x, y) + ||x - z||^2 / 2`` (:meth:`DataFidelity.prox`)
  that plug-and-play methods take, where it has a closed form or a linear solve.

- :class:`SquaredL2`: ``d(u, y) = ||u - y||^2`` (the paper's; the default), for Gaussian noise;
- :class:`WeightedL2`: ``d(u, y) = sum_i w_i (u_i - y_i)^2`` with ``w`` fixed or a function of
  ``y``, for Gaussian noise of known varying variance (``w = 1 / var``; CT's penalised
  weighted least squares);
- :class:`PoissonLikelihood`: ``d(u, y) = c sum_i (u_i + b) - y_i - y_i log((u_i + b) / y_i)``,
  for photon counts ``c y ~ Poisson(c (A x + b))``.

Values are summed in float64 (:func:`genprior.batched.sq_norm` says why).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from genprior.batched import sq_norm
from genprior.errors import InputError


class DataFidelity:
    """Base of a data term ``d(u, y)``, ``u = A x``: subclasses give :meth:`measured` and what they can of the rest."""

    #: the name a record or a report uses
    name = "fidelity"

    def __call__(self, physics, x: Tensor, y: Tensor) -> Tensor:
        """``d(A x, y)`` per image ``[B]`` (float64)."""
        return self.measured(physics.A(x), y)

    def measured(self, u: Tensor, y: Tensor) -> Tensor:
        """``d(u, y)`` per image ``[B]`` (float64) for measurements-shaped ``u`` and ``y``."""
        raise NotImplementedError

    def check(self, y: Tensor) -> Tensor:
        """Raise :class:`InputError` if ``y`` cannot be data of this noise model; returns ``y``."""
        return y

    def gradient(self, physics, x: Tensor, y: Tensor) -> Tensor:
        """``grad_x d(A x, y)`` per image, by autograd (a subclass may give it in closed form)."""
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self(physics, x, y).sum(), x)
        return grad

    def prox_conjugate(self, p: Tensor, y: Tensor, s: float | Tensor) -> Tensor:
        """``prox_{s d*(., y)}(p)``: the dual step of PDHG on ``d(A x, y)``."""
        raise InputError(f"the {self.name} data fidelity has no proximal map of its conjugate here, so the "
                         "primal-dual method (tv) cannot use it; choose a gradient method (tikhonov, hard, relaxed)")

    def prox(self, physics, z: Tensor, y: Tensor, gamma: float | Tensor) -> Tensor:
        """``argmin_x gamma d(A x, y) + ||x - z||^2 / 2`` per image (``gamma`` a number or ``[B]``)."""
        raise InputError(f"the {self.name} data fidelity has no proximal step here; the plug-and-play methods "
                         "need one (the squared L2 fidelity has it)")

    def record(self) -> dict[str, float | str]:
        """The fidelity as JSON (its name and constants), for a result's parameters."""
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.record()})"


class SquaredL2(DataFidelity):
    """``d(u, y) = ||u - y||^2``: Gaussian noise, the paper's data term (no factor 1/2)."""

    name = "l2"

    def measured(self, u: Tensor, y: Tensor) -> Tensor:
        return sq_norm(u - y)

    def gradient(self, physics, x: Tensor, y: Tensor) -> Tensor:
        """``2 A^T (A x - y)``."""
        return 2.0 * physics.A_adjoint(physics.A(x) - y)

    def prox_conjugate(self, p: Tensor, y: Tensor, s: float | Tensor) -> Tensor:
        """``(p - s y) / (1 + s / 2)``, from ``d*(p) = ||p||^2 / 4 + <p, y>``."""
        return (p - s * y) / (1.0 + s / 2.0)

    def prox(self, physics, z: Tensor, y: Tensor, gamma: float | Tensor) -> Tensor:
        """``physics.prox_l2(z, y, 2 gamma)``: DeepInverse's ``prox_l2`` minimises ``(g / 2) ||A x - y||^2 + ...``."""
        prox_l2 = getattr(physics, "prox_l2", None)
        if not callable(prox_l2):
            raise InputError(f"{type(physics).__name__} has no prox_l2(z, y, gamma), the data step of the "
                             "plug-and-play methods; genprior's operators and DeepInverse's physics have one")
        return prox_l2(z, y, 2.0 * gamma)


class WeightedL2(DataFidelity):
    """``d(u, y) = sum_i w_i (u_i - y_i)^2`` with weights ``w >= 0``.

    Args:
        weights: one weight per measurement (a tensor shaped like one measurement, shared by
            the batch), or a function ``y -> w`` of the measurements (computed per image, so it
            follows each image through batching): for transmission CT with ``I0`` photons per
            ray, ``w = I0 exp(-y)`` is the inverse variance of the log data.
    """

    name = "weighted-l2"

    def __init__(self, weights: Tensor | Callable[[Tensor], Tensor]) -> None:
        if isinstance(weights, Tensor):
            if not bool(torch.isfinite(weights).all()) or bool((weights < 0).any()):
                raise InputError("weights must be finite and >= 0")
        elif not callable(weights):
            raise InputError(f"weights must be a tensor or a function of y, got {type(weights).__name__}")
        self.weights = weights

    def _weights(self, y: Tensor) -> Tensor:
        w = self.weights(y) if callable(self.weights) and not isinstance(self.weights, Tensor) else self.weights
        if w.shape != y.shape and w.shape != y.shape[1:]:
            raise InputError(f"weights must have the shape of one measurement {list(y.shape[1:])} or of the batch "
                             f"{list(y.shape)}, got {list(w.shape)}")
        return w.to(y.dtype)

    def measured(self, u: Tensor, y: Tensor) -> Tensor:
        w = self._weights(y)
        return ((u - y).double().pow(2) * w.double()).reshape(y.shape[0], -1).sum(1)

    def prox_conjugate(self, p: Tensor, y: Tensor, s: float | Tensor) -> Tensor:
        """Per measurement ``(p - s y) / (1 + s / (2 w))`` (``p = 0`` where ``w = 0``: ``d*`` is then
        the indicator of ``{0}`` plus ``<p, y>``)."""
        w = self._weights(y)
        return torch.where(w > 0, (p - s * y) / (1.0 + s / (2.0 * w.clamp_min(1e-30))), torch.zeros_like(p))

    def record(self) -> dict[str, float | str]:
        return {"name": self.name, "weights": "function of y" if callable(self.weights) and
                not isinstance(self.weights, Tensor) else "tensor"}


class PoissonLikelihood(DataFidelity):
    """Photon counts: ``c y ~ Poisson(c (u + b))`` with ``u = A x``, ``c`` counts per unit and background ``b``.

    The negative log-likelihood, up to a constant that makes it 0 at ``u + b = y`` (the
    Kullback-Leibler form, >= 0), is

        d(u, y) = c sum_i (u_i + b) - y_i - y_i log((u_i + b) / y_i)      (0 log 0 = 0)

    and ``+inf`` where ``u_i + b <= 0 < y_i``: a line search rejects such points, so start
    from a positive image (or take ``b > 0``).

    Args:
        scale: ``c > 0``, counts per unit of ``y`` (higher: less noise).
        background: ``b >= 0``, the mean counts per unit without signal.
    """

    name = "poisson"

    def __init__(self, scale: float = 1.0, background: float = 0.0) -> None:
        if not (isinstance(scale, (int, float)) and 0 < scale < float("inf")):
            raise InputError(f"scale must be a finite number > 0, got {scale!r}")
        if not (isinstance(background, (int, float)) and 0 <= background < float("inf")):
            raise InputError(f"background must be a finite number >= 0, got {background!r}")
        self.scale, self.background = float(scale), float(background)

    def check(self, y: Tensor) -> Tensor:
        if bool((y < 0).any()):
            raise InputError(f"Poisson data are counts: y must be >= 0, got a minimum of {float(y.min()):.3g}")
        return y

    def measured(self, u: Tensor, y: Tensor) -> Tensor:
        mean = u.double() + self.background
        yd = y.double()
        log_term = torch.where(yd > 0, yd * (torch.log(mean.clamp_min(0)) - torch.log(yd.clamp_min(1e-300))),
                               torch.zeros_like(yd))
        value = self.scale * (mean - yd - log_term)
        value = torch.where((mean <= 0) & (yd > 0), torch.full_like(value, float("inf")), value)
        return value.reshape(y.shape[0], -1).sum(1)

    def prox_conjugate(self, p: Tensor, y: Tensor, s: float | Tensor) -> Tensor:
        """``p = ((c + r) - sqrt((c - r)^2 + 4 s c y)) / 2`` with ``r = p + s b``: the root below ``c`` of the
        optimality condition of ``min_q (q - p)^2 / 2 + s d*(q)``, ``d*(q) = -c y log(c - q) - b q + const``."""
        c = self.scale
        r = p + s * self.background
        return 0.5 * ((c + r) - torch.sqrt((c - r) ** 2 + 4.0 * s * c * y))

    def record(self) -> dict[str, float | str]:
        return {"name": self.name, "scale": self.scale, "background": self.background}


def default_fidelity(fidelity: DataFidelity | None) -> DataFidelity:
    """``fidelity``, or :class:`SquaredL2` for ``None``; :class:`InputError` for anything else."""
    if fidelity is None:
        return SquaredL2()
    if not isinstance(fidelity, DataFidelity):
        raise InputError(f"fidelity must be a genprior.physics.fidelity.DataFidelity (SquaredL2, WeightedL2, "
                         f"PoissonLikelihood, or a subclass), got {type(fidelity).__name__}")
    return fidelity


__all__ = ["DataFidelity", "PoissonLikelihood", "SquaredL2", "WeightedL2", "default_fidelity"]
