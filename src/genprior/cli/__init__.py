"""Command-line interface: a thin layer over the library.

Verbs mirror the flow of the system: ``data``, ``train``, ``evaluate``, ``reconstruct``,
``tune``, ``paper``, ``demo``, ``bench``.  Each verb lives in its own module and
registers itself on :data:`genprior.cli.app.app`.  User errors (bad shapes, NaN data,
missing files, unknown names) print one ``error:`` line and exit with status 2.
"""

from __future__ import annotations

import sys

from genprior.cli.app import app

# Importing a verb module registers its commands.
from genprior.cli import data as _data  # noqa: F401,E402
from genprior.cli import demo as _demo  # noqa: F401,E402
from genprior.cli import evaluate as _evaluate  # noqa: F401,E402
from genprior.cli import reconstruct as _reconstruct  # noqa: F401,E402
from genprior.cli import train as _train  # noqa: F401,E402
from genprior.cli import tune as _tune  # noqa: F401,E402

USER_ERRORS = (ValueError, FileNotFoundError, TypeError, KeyError)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``genprior`` console script."""
    try:
        app(args=argv, standalone_mode=True)
    except USER_ERRORS as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)


__all__ = ["app", "main"]
