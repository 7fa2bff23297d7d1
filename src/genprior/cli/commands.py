"""Every verb of the command line, registered on :data:`genprior.cli.app.app` by importing its module."""

from __future__ import annotations

from genprior.cli import data as _data  # noqa: F401
from genprior.cli import demo as _demo  # noqa: F401
from genprior.cli import evaluate as _evaluate  # noqa: F401
from genprior.cli import flow as _flow  # noqa: F401
from genprior.cli import paper as _paper  # noqa: F401
from genprior.cli import reconstruct as _reconstruct  # noqa: F401
from genprior.cli import train as _train  # noqa: F401
from genprior.cli import tune as _tune  # noqa: F401
from genprior.cli.app import app

__all__ = ["app"]
