"""The errors genprior raises on purpose, told apart from bugs.

:class:`InputError` is what a user can fix: a value out of bounds, a shape that does not
fit, an unknown name, a missing, corrupt or oversized file.  Its message names the
problem and what to do.  It subclasses ``ValueError``, so code that catches
``ValueError`` keeps working; the command line turns exactly these (and ``OSError`` on
the user's files) into one ``error:`` line, and any other exception is a bug that keeps
its traceback.  :class:`DivergedError` is a solve or a training run whose numbers became
NaN or Inf (an ``InputError`` and a ``FloatingPointError``): the remedy is a parameter.
"""

from __future__ import annotations


class InputError(ValueError):
    """A value, shape, name or file given by the user is wrong; the message says which and what to do."""


class DivergedError(InputError, FloatingPointError):
    """A solve or a training run produced NaN or Inf; the message says which parameter to change."""


__all__ = ["DivergedError", "InputError"]
