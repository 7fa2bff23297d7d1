"""Resource bounds: sizes a user controls are checked against a memory budget before allocation.

A request such as a 999 x 999 blur kernel, 100,000 restarts or a grid of 10^8 values
should fail at once with a sentence, not exhaust the machine.  Callers estimate the
bytes an allocation needs and call :func:`check_memory`; counts that drive Python
loops are bounded by :func:`check_count`.  The budget is half of the machine's memory
unless the environment variable ``GENPRIOR_MAX_MEMORY_GB`` sets another; tuning grids hold
at most 10,000 values unless ``GENPRIOR_MAX_GRID_POINTS`` sets another.
"""

from __future__ import annotations

import math
import os

from genprior.errors import InputError

MEMORY_ENV = "GENPRIOR_MAX_MEMORY_GB"
GRID_ENV = "GENPRIOR_MAX_GRID_POINTS"
MAX_GRID_POINTS = 10_000  # default: values of one tuning grid (and points of a product grid)


class ResourceLimitError(InputError):
    """A request would need more memory (or more items) than the configured limit allows."""


def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


def memory_limit() -> int:
    """The memory budget in bytes: ``GENPRIOR_MAX_MEMORY_GB`` or half of physical memory."""
    text = os.environ.get(MEMORY_ENV)
    if text is not None:
        try:
            value = float(text)
        except ValueError:
            raise InputError(f"{MEMORY_ENV} must be a number of gigabytes, got {text!r}") from None
        if not math.isfinite(value) or value <= 0:
            raise InputError(f"{MEMORY_ENV} must be a number of gigabytes > 0, got {text!r}")
        return int(value * 2**30)
    return _physical_memory() // 2


def grid_limit() -> int:
    """Most values of one tuning grid (and points of a product grid): ``GENPRIOR_MAX_GRID_POINTS``
    or :data:`MAX_GRID_POINTS`.  Each point is a solve per image, so the cost grows with it."""
    text = os.environ.get(GRID_ENV)
    if text is None:
        return MAX_GRID_POINTS
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"{GRID_ENV} must be a positive integer, got {text!r}") from None
    if value < 1:
        raise InputError(f"{GRID_ENV} must be a positive integer, got {text!r}")
    return value


def _gb(nbytes: float) -> str:
    return f"{nbytes / 2**30:.3g} GB"


def check_memory(nbytes: float, what: str, lower: str = "") -> None:
    """Raise :class:`ResourceLimitError` if ``what`` would need more than :func:`memory_limit` bytes.

    Args:
        nbytes: an estimate of the bytes ``what`` allocates.
        what: the request in words (``"a 999 x 999 blur kernel on 28 x 28 images"``).
        lower: how to ask for less (``"use fewer restarts"``), put before the limit's hint.
    """
    limit = memory_limit()
    if nbytes > limit:
        source = f"{MEMORY_ENV}" if os.environ.get(MEMORY_ENV) else f"half of this machine's memory; set {MEMORY_ENV}"
        hint = f"{lower}, or " if lower else ""
        raise ResourceLimitError(f"{what} needs about {_gb(nbytes)}, more than the limit of {_gb(limit)}; "
                                 f"{hint}raise the limit ({source} to the gigabytes allowed)")


def check_disk(nbytes: float, directory: str | os.PathLike, what: str, lower: str = "") -> None:
    """Raise :class:`ResourceLimitError` if ``what`` would write more than the free space of the file
    system holding ``directory`` (its nearest existing ancestor)."""
    import shutil
    from pathlib import Path

    folder = Path(os.path.abspath(directory))
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    if nbytes > free:
        hint = f"; {lower}" if lower else ""
        raise ResourceLimitError(f"{what} would write about {_gb(nbytes)}, more than the {_gb(free)} free on the disk "
                                 f"of {folder}{hint}")


def check_count(value: int, limit: int, what: str, raise_how: str) -> int:
    """Raise :class:`ResourceLimitError` unless ``0 <= value <= limit``; the message says how to go higher."""
    if value > limit:
        raise ResourceLimitError(f"{what} is {value:,}, more than the limit of {limit:,}; {raise_how}")
    return value


__all__ = ["GRID_ENV", "MAX_GRID_POINTS", "MEMORY_ENV", "grid_limit", "ResourceLimitError", "check_count", "check_disk",
           "check_memory", "memory_limit"]
