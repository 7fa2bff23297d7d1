"""The base of a problem's options: the dataclass each registered problem extends.

A problem (:data:`genprior.physics.problems.PROBLEMS`) is a frozen dataclass of its
options (:class:`genprior.params.Params` fields: type, default, bounds, help), which
checks the sizes its operator would need and builds it.  It lives apart from the
registry so that a problem's own module can extend it and be listed there.
"""

from __future__ import annotations

from dataclasses import dataclass

from genprior.params import Params
from genprior.physics.operator import LinearOperator


@dataclass(frozen=True)
class ProblemOptions(Params):
    """Options of a problem; a subclass adds its fields and builds its operator."""

    def check(self, image_size: int) -> None:
        """Raise before :meth:`build` if the operator would not fit the images or the memory."""

    def build(self, image_size: int) -> LinearOperator:
        """The normalised operator for ``image_size`` x ``image_size`` images."""
        raise NotImplementedError
