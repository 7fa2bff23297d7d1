"""
Extend genprior: a new problem and a new method from your own module
====================================================================

A forward operator and a reconstruction method are each one class or function plus a
small parameter dataclass, and one registration: :data:`genprior.PROBLEMS` or
:data:`genprior.METHODS` (``register`` in a script, as here, or one entry point in the
groups ``genprior.problems`` / ``genprior.methods`` of an installed package, which the
command line then offers too: ``genprior reconstruct --problem row-blur --width 3 --method
landweber --step 0.5 ...``; the options are generated from the dataclasses).  The method
runs on genprior's one iteration loop, so it stops per image, records its statistics and
takes a callback like every built-in method.  This script plays the outside package:
nothing in genprior is edited.  (A new model kind works the same way, with a
:class:`~genprior.models.base.GenerativeModel` subclass and an entry in
:data:`genprior.MODEL_KINDS`: see :doc:`/extending`.)
"""

import genprior as gp  # first: it sets OMP_WAIT_POLICY=PASSIVE before torch loads

from dataclasses import dataclass

import torch

from genprior.choice.tuning import grid_search
from genprior.methods import Method
from genprior.methods.common import per_image
from genprior.methods.parameters import MethodParams, record_of
from genprior.params import param
from genprior.physics.fidelity import default_fidelity
from genprior.physics.operator import LinearOperator
from genprior.physics.options import ProblemOptions
from genprior.solvers.loop import Report, iterate
from genprior.solvers.result import Result


# %%
# A forward operator: a blur along the rows, and its options
# ----------------------------------------------------------
# :class:`~genprior.physics.operator.LinearOperator` needs ``_forward`` and ``_adjoint``;
# the base class gives ``A``, ``A_adjoint``, ``norm()`` and the shape checks.
class RowBlur(LinearOperator):
    """``(A x)_ij = mean of x_i,(j-w..j+w)`` (circular), a symmetric operator of norm 1."""

    def __init__(self, image_size: int, width: int) -> None:
        super().__init__((1, image_size, image_size), (1, image_size, image_size))
        self.width = width

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        shifts = range(-self.width, self.width + 1)
        return sum(torch.roll(x, s, dims=-1) for s in shifts) / len(shifts)

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:
        return self._forward(y)  # symmetric


@dataclass(frozen=True)
class RowBlurOptions(ProblemOptions):
    width: int = param(2, "half-width of the row blur in pixels", minimum=0)

    def build(self, image_size: int) -> LinearOperator:
        return RowBlur(image_size, self.width)


# %%
# A method: Landweber iterations, with its step as a parameter
# ------------------------------------------------------------
# Parameters may be one value per image, so a whole grid is solved as one batch.  The
# iteration runs on :func:`genprior.solvers.loop.iterate`, which keeps the active set, the
# per-image stopping, the history of statistics and the callback.
@dataclass(frozen=True)
class LandweberParams(MethodParams):
    step: float = param(1.0, "step size, 0 < step < 2 / ||A||^2", above=0, maximum=2, grid=(1.0, {0.25: 0.25, 0.5: 0.25}))
    max_iter: int = param(200, "iteration limit", minimum=1)
    tol: float = param(1e-4, "stop when ||x+ - x|| <= tol ||x||", minimum=0)


def landweber(physics, y, generator=None, *, fidelity=None, callback=None, **params) -> Result:
    """``x <- x - (step / 2) grad d(A x, y)`` from zero (``x + step A^T (y - A x)`` for the squared L2)."""
    p = LandweberParams.create(params, "method 'landweber'")
    data = default_fidelity(fidelity)
    step = per_image(p.step, y.shape[0], "step", y).reshape(-1, 1, 1, 1)
    x = torch.zeros_like(physics.A_adjoint(y))

    def one_step(idx, history):
        old = x[idx]
        new = old - step[idx] / 2 * data.gradient(physics, old, y[idx])
        x[idx] = new
        change = (new - old).flatten(1).norm(dim=1)
        return Report({"objective": data(physics, new, y[idx])},
                      converged=change <= p.tol * new.flatten(1).norm(dim=1))

    record = iterate(one_step, {"objective": data(physics, x, y)}, p.max_iter, callback)
    return Result(x=x, z=None, u=None, iterations=record.iterations, history=record.history,
                  converged=record.converged, seconds=0.0, params={**record_of(p), "fidelity": data.record()},
                  ended=record.ended)


# %%
# The two registrations, then the ordinary calls
# ----------------------------------------------
gp.PROBLEMS.register("row-blur", RowBlurOptions)
gp.METHODS.register("landweber", Method(landweber, LandweberParams))

from genprior.data.shapes import make_shapes  # noqa: E402

truth = torch.from_numpy(make_shapes(4, seed=1))                 # [4, 1, 56, 56]
A = gp.operator("row-blur", 56, width=3)
y = gp.measure(A, truth, noise=0.01, seed=0)
print("blurred data:", f"{gp.psnr(y, truth).mean():.2f} dB")
result = gp.solve("landweber", A, y, step=1.0)
print(f"landweber, step 1: {gp.psnr(result.x, truth).mean():.2f} dB, {result.n_converged} of 4 converged "
      f"({result.iterations.tolist()} iterations)")
tuned = grid_search(A, y, truth, "landweber", {"step": [0.25, 0.5, 1.0, 1.9]})
for row in tuned["table"]:
    print(f"step {row['step']:4.2f}: {row['psnr']:.2f} dB")
print("the grid search chooses step =", tuned["best"]["step"])

# %%
# Bad values get the same clear errors as the built-in entries:
try:
    gp.solve("landweber", A, y, step=3.0)
except ValueError as err:
    print("error:", err)
