"""Opening a user's input files: regular files only, never a read that blocks forever.

A FIFO given as ``--data`` would block ``open`` until some other process writes to it, a
device could be endless, and a looping or dangling symbolic link used to surface as a
"missing file" that was not missing.  :func:`check_input_file` says what is wrong in one
line (:class:`~genprior.errors.InputError`, or ``FileNotFoundError`` for a path that does
not exist); :func:`open_input` opens without blocking (``O_NONBLOCK``) and checks the
opened file itself, so a file swapped for a FIFO between the check and the open is
refused too.  Links to regular files are followed (a user may link a data set).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from genprior.errors import InputError

_SPECIAL = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


def _not_regular(mode: int) -> str | None:
    return next((name for test, name in _SPECIAL if test(mode)), None if stat.S_ISREG(mode) else "not a regular file")


def _explain(path: Path, exc: OSError, what: str) -> Exception:
    """The user error for an ``OSError`` of ``stat``/``open`` on ``path``."""
    if exc.errno == errno.ELOOP:
        return InputError(f"{what} {path} is a symbolic link that loops (it leads back to itself); point it at a file")
    if exc.errno == errno.ENOENT:
        if os.path.islink(path):
            return InputError(f"{what} {path} is a broken symbolic link (to {os.readlink(path)}, which does not exist)")
        return FileNotFoundError(f"{what} not found: {path}")
    if exc.errno == errno.EACCES:
        return InputError(f"{what} {path} cannot be read (permission denied); check its permissions")
    if exc.errno == errno.ENOTDIR:
        return FileNotFoundError(f"{what} not found: {path} (a part of the path is a file)")
    return exc


def check_input_file(path: str | os.PathLike, what: str = "input file") -> os.stat_result:
    """``stat`` of ``path`` (links followed) if it is a readable regular file.

    Raises:
        FileNotFoundError: nothing is there.
        InputError: a loop or dangling link, no permission, a FIFO, device, socket or directory.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise _explain(path, exc, what) from None
    kind = _not_regular(st.st_mode)
    if kind is not None:
        raise InputError(f"{what} {path} is {kind}; genprior reads regular files only")
    if not os.access(path, os.R_OK):
        raise InputError(f"{what} {path} cannot be read (permission denied); check its permissions")
    return st


def open_input(path: str | os.PathLike, what: str = "input file") -> BinaryIO:
    """``path`` opened for binary reading if it is a regular file; the open never blocks."""
    path = Path(path)
    check_input_file(path, what)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise _explain(path, exc, what) from None
    kind = _not_regular(os.fstat(fd).st_mode)
    if kind is not None:
        os.close(fd)
        raise InputError(f"{what} {path} is {kind}; genprior reads regular files only")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


__all__ = ["check_input_file", "open_input"]
