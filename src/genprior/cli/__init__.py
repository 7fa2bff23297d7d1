"""Command-line interface: a thin layer over the library.

Verbs mirror the flow of the system: ``data``, ``train``, ``evaluate``, ``reconstruct``,
``tune``, ``paper``, ``demo``.  Each verb lives in its own module and registers itself
on :data:`genprior.cli.app.app`; :mod:`genprior.cli.commands` imports them all.  They
are imported inside :func:`main`, so an error while building the options (an installed
package's entry point that fails to load) is reported like any other.  User errors (bad shapes, NaN data,
missing files, unknown names: the library's :class:`~genprior.errors.InputError` and its subclasses, and
``OSError`` on the user's files) print one ``error:`` line and exit with status 2; any
other exception, a bare ``ValueError`` included, is a bug and keeps its traceback.  Library messages name Python arguments in
backticks (`` `force=True` ``); :func:`as_flags` writes them as this command line's flags.
"""

from __future__ import annotations

import re
import sys

from genprior.errors import InputError

# InputError: bad values, shapes, names and files (ResourceLimitError, DownloadError and DivergedError
# are InputErrors); OSError: unreadable inputs, a full disk.  Nothing else: a bug keeps its traceback.
USER_ERRORS = (InputError, OSError)
# Python arguments whose flag is not --name-with-dashes.
FLAGS = {"source": "--src", "generator": "--model DIR", "denoiser": "--model DIR"}


def as_flags(message: str) -> str:
    """``message`` with each `` `name=value` `` as a flag: ``--name value``, ``--name`` for ``True``.

    >>> as_flags("pass `resume=True` or `acquisition=\"any\"`")
    'pass --resume or --acquisition any'
    """
    def flag(match: re.Match) -> str:
        name, value = match.group(1), match.group(2).strip("'\"")
        spelled = FLAGS.get(name, "--" + name.replace("_", "-"))
        return spelled if value in ("True", "") else f"{spelled} {value}"

    return re.sub(r"`([a-z_]+)=([^`]*)`", flag, message)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``genprior`` console script."""
    import typer

    # click's exceptions, from wherever this typer takes click (a vendored copy in typer >= 0.20)
    click_errors = sys.modules[typer.BadParameter.__module__]
    try:
        from genprior.cli.commands import app  # builds every command and its options from the registries

        code = app(args=argv, standalone_mode=False)
    except getattr(click_errors, "NoArgsIsHelpError", ()) as exc:  # `genprior train`: the help is the answer
        print(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
        sys.exit(0)
    except click_errors.UsageError as exc:  # a bad flag or value: one line, like every other error
        command = exc.ctx.command_path if exc.ctx is not None else "genprior"
        print(f"error: {exc.format_message()} (see `{command} --help`)", file=sys.stderr)
        sys.exit(2)
    except click_errors.ClickException as exc:
        print(f"error: {exc.format_message()}", file=sys.stderr)
        sys.exit(2)
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        sys.exit(130)
    except USER_ERRORS as exc:
        print(f"error: {as_flags(str(exc))}", file=sys.stderr)
        sys.exit(2)
    except MemoryError:
        print("error: out of memory; ask for smaller sizes (fewer images, restarts or grid values, a smaller "
              "--max-batch) or lower GENPRIOR_MAX_MEMORY_GB so that such requests are refused up front",
              file=sys.stderr)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)  # as click's standalone mode: always SystemExit


__all__ = ["as_flags", "main"]
