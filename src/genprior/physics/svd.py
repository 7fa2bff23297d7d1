"""Exact singular value decompositions of operators, with DeepInverse's ``DecomposablePhysics`` names.

An operator with an exact SVD (denoising, inpainting, compressed sensing) returns from
``svd()`` an :class:`SVD`,

    A = U diag(mask) V^T,

whose spectral domain holds one coefficient per pixel, tensors ``[B, *in_shape]``:

- ``V_adjoint``: images ``[B, *in_shape]`` -> coefficients; ``V`` its inverse (``V`` is
  orthogonal);
- ``U``: coefficients -> measurements ``[B, *out_shape]``; ``U_adjoint`` its adjoint.  The
  first ``k = min(m, n)`` coefficients (row-major over ``in_shape``) carry the singular
  values and ``U`` has orthonormal columns there; it ignores the others (``U_adjoint``
  puts zeros there), so ``U U_adjoint = I`` when ``m <= n``;
- ``mask``: ``[1, *in_shape]`` singular values (the scale of the normalised operator
  included), zero where a coefficient is not measured.

As in DeepInverse, ``A x = U(mask * V_adjoint(x))``, ``A^T y = V(mask * U_adjoint(y))``
and ``prox_l2(z, y, gamma) = V(V_adjoint(z + gamma A^T y) / (1 + gamma mask^2))``, the
minimiser of ``(gamma/2) ||A x - y||^2 + (1/2) ||x - z||^2``.  DDRM works on this
decomposition; :func:`has_svd` and :func:`require_svd` are how a method asks for one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from genprior.errors import InputError
from genprior.physics.linear_solve import batch_gamma, check_prox_inputs
from genprior.validation import check_batch_shape


class SVD:
    """``A = U diag(mask) V^T`` on a spectral domain of shape ``in_shape`` (see the module).

    Subclasses implement ``_U``, ``_U_adjoint``, ``_V``, ``_V_adjoint`` and set ``mask``.
    """

    mask: Tensor

    def __init__(self, in_shape: Sequence[int], out_shape: Sequence[int], name: str) -> None:
        self.in_shape, self.out_shape, self.name = tuple(in_shape), tuple(out_shape), name

    def U(self, c: Tensor) -> Tensor:
        """Spectral coefficients ``[B, *in_shape]`` -> measurements ``[B, *out_shape]``."""
        return self._U(check_batch_shape(c, self.in_shape, f"{self.name} SVD coefficients"))

    def U_adjoint(self, y: Tensor) -> Tensor:
        """Measurements ``[B, *out_shape]`` -> spectral coefficients ``[B, *in_shape]``."""
        return self._U_adjoint(check_batch_shape(y, self.out_shape, f"{self.name} SVD measurements"))

    def V(self, c: Tensor) -> Tensor:
        """Spectral coefficients -> images, both ``[B, *in_shape]``."""
        return self._V(check_batch_shape(c, self.in_shape, f"{self.name} SVD coefficients"))

    def V_adjoint(self, x: Tensor) -> Tensor:
        """Images -> spectral coefficients, both ``[B, *in_shape]``."""
        return self._V_adjoint(check_batch_shape(x, self.in_shape, f"{self.name} SVD images"))

    def A(self, x: Tensor) -> Tensor:
        """``U(mask * V_adjoint(x))``: the operator, through its decomposition."""
        return self.U(self.mask * self.V_adjoint(x))

    def A_adjoint(self, y: Tensor) -> Tensor:
        """``V(mask * U_adjoint(y))``."""
        return self.V(self.mask * self.U_adjoint(y))

    def A_adjoint_A(self, x: Tensor) -> Tensor:
        """``A^T A x = V(mask^2 * V_adjoint(x))``."""
        return self.V(self.mask.square() * self.V_adjoint(x))

    def prox_l2(self, z: Tensor, y: Tensor, gamma: float | Tensor) -> Tensor:
        """``argmin_x (gamma/2) ||A x - y||^2 + (1/2) ||x - z||^2``, in closed form.

        ``gamma`` is one number or a ``[B]`` tensor (finite, >= 0).
        """
        check_prox_inputs(self, z, y)
        g = batch_gamma(gamma, z.shape[0], z)
        b = z + g * self.A_adjoint(y)
        return self.V(self.V_adjoint(b) / (1.0 + g * self.mask.square()))

    def _U(self, c: Tensor) -> Tensor:
        raise NotImplementedError

    def _U_adjoint(self, y: Tensor) -> Tensor:
        raise NotImplementedError

    def _V(self, c: Tensor) -> Tensor:
        raise NotImplementedError

    def _V_adjoint(self, x: Tensor) -> Tensor:
        raise NotImplementedError


class DiagonalSVD(SVD):
    """``V = I``: ``A = select(mask * x)`` for a selection of pixels (identity, inpainting).

    Args:
        select: coefficients ``[B, *in_shape]`` -> measurements (``U``; orthonormal rows).
        embed: its adjoint (``U_adjoint``).
        mask: ``[1, *in_shape]`` singular values (``scale`` where a pixel is kept, else 0).
    """

    def __init__(self, in_shape: Sequence[int], out_shape: Sequence[int], name: str, mask: Tensor,
                 select: Callable[[Tensor], Tensor], embed: Callable[[Tensor], Tensor]) -> None:
        super().__init__(in_shape, out_shape, name)
        self.mask, self._select, self._embed = mask, select, embed

    def _U(self, c: Tensor) -> Tensor:
        return self._select(c)

    def _U_adjoint(self, y: Tensor) -> Tensor:
        return self._embed(y)

    def _V(self, c: Tensor) -> Tensor:
        return c

    def _V_adjoint(self, x: Tensor) -> Tensor:
        return x


class DenseSVD(SVD):
    """The SVD of a dense ``m x n`` matrix, computed once in float64.

    ``M = U_k diag(s) V_k^T`` (thin, ``k = min(m, n)``).  The full orthogonal ``V`` is
    ``V_k`` completed by Householder reflections (``torch.geqrf`` of ``V_k``, applied with
    ``torch.ormqr``), so it costs ``O(n k)`` memory and time per image, never ``n x n``.
    Inputs are converted to float64 and results returned in the input's dtype.

    Args:
        matrix: the (scaled) matrix, any float dtype; decomposed in float64.
        dtype: dtype of :attr:`mask` (the operator's).
    """

    def __init__(self, matrix: Tensor, in_shape: Sequence[int], out_shape: Sequence[int], name: str,
                 dtype: torch.dtype) -> None:
        super().__init__(in_shape, out_shape, name)
        n = matrix.shape[1]
        u, s, vh = torch.linalg.svd(matrix.detach().to(torch.float64), full_matrices=False)
        self.k, self.n = s.numel(), n
        self.u, self.s, self.v = u, s, vh.T  # [m, k], [k], [n, k]
        self.reflectors, self.tau = torch.geqrf(self.v)  # V_k = Q[:, :k] diag(signs)
        self.signs = torch.ones(n, dtype=torch.float64, device=s.device)
        self.signs[: self.k] = torch.diagonal(self.reflectors).sign()
        self.mask = torch.nn.functional.pad(s, (0, n - self.k)).to(dtype).reshape(1, *self.in_shape)

    def _flat(self, t: Tensor) -> Tensor:
        return t.reshape(t.shape[0], -1).to(torch.float64)

    def _U(self, c: Tensor) -> Tensor:
        return (self._flat(c)[:, : self.k] @ self.u.T).to(c.dtype).reshape(c.shape[0], *self.out_shape)

    def _U_adjoint(self, y: Tensor) -> Tensor:
        coefficients = torch.nn.functional.pad(self._flat(y) @ self.u, (0, self.n - self.k))
        return coefficients.to(y.dtype).reshape(y.shape[0], *self.in_shape)

    def _V(self, c: Tensor) -> Tensor:
        images = torch.ormqr(self.reflectors, self.tau, (self._flat(c) * self.signs).T, left=True, transpose=False)
        return images.T.to(c.dtype).reshape(c.shape)

    def _V_adjoint(self, x: Tensor) -> Tensor:
        coefficients = torch.ormqr(self.reflectors, self.tau, self._flat(x).T, left=True, transpose=True)
        return (coefficients.T * self.signs).to(x.dtype).reshape(x.shape)

    def prox_l2(self, z: Tensor, y: Tensor, gamma: float | Tensor) -> Tensor:
        """Closed form on the thin factors, in float64: with ``c = V_k^T z``,
        ``x = z + V_k [(gamma s U_k^T y - gamma s^2 c) / (1 + gamma s^2)]``."""
        check_prox_inputs(self, z, y)
        z64 = self._flat(z)
        g = batch_gamma(gamma, z.shape[0], z64)
        gs = g * self.s
        step = (gs * (self._flat(y) @ self.u) - gs * self.s * (z64 @ self.v)) / (1.0 + gs * self.s)
        return (z64 + step @ self.v.T).to(z.dtype).reshape(z.shape)


def operators_with_svd() -> list[str]:
    """Names of the :class:`~genprior.physics.operator.LinearOperator` classes that override ``svd``."""
    from genprior.physics.operator import LinearOperator

    found, todo = set(), list(LinearOperator.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.svd is not LinearOperator.svd:
            found.add(cls.__name__)
    return sorted(found)


def _is_decomposable(physics) -> bool:
    """A DeepInverse-style ``DecomposablePhysics``: ``U``, ``U_adjoint``, ``V``, ``V_adjoint`` and ``mask``."""
    names = ("U", "U_adjoint", "V", "V_adjoint")
    return all(callable(getattr(physics, a, None)) for a in names) and hasattr(physics, "mask")


def require_svd(physics, method: str = "this method"):
    """The exact SVD of ``physics``: its ``svd()``, or the physics itself if it is decomposable.

    Raises:
        InputError: ``physics`` has no exact SVD; the message names it and the operators that have one.
    """
    svd = getattr(physics, "svd", None)
    if callable(svd):
        try:
            return svd()
        except InputError as err:
            reason = str(err)
    elif _is_decomposable(physics):
        return physics
    else:
        reason = f"{type(physics).__name__} has none"
    raise InputError(f"{method} needs an operator with an exact SVD: {reason}")


def has_svd(physics) -> bool:
    """Whether :func:`require_svd` would return a decomposition of ``physics``."""
    try:
        require_svd(physics)
    except InputError:
        return False
    return True
