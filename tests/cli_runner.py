"""Run the ``genprior`` command line in-process, as the tests do."""

from __future__ import annotations

from genprior.cli import main


def run_cli(args: list[str]) -> int:
    """Exit status of ``genprior ARGS`` (0 on success, 2 for a user error)."""
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
