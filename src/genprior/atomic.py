"""Atomic file writes: write into a private folder beside the target, then rename.

A crash mid-write leaves the previous file intact, never a truncated one.  The
temporary file lives in a folder only this process can enter (``.NAME.tmp-PID-XXXX/``,
mode 0700, made by ``mkdtemp``), so no one can plant a link where genprior writes; the
name carries the writer's pid, so what a killed writer leaves behind is recognised and
removed by :func:`remove_stale_temporaries`.

An output a command claimed as new (:func:`new_outputs`, used without ``--force``) is put
in place with an exclusive hard link instead of a rename: if a file appeared at that
path while the command ran, it is left alone, the new result is kept beside it and the
write fails with :class:`~genprior.errors.InputError` naming both.
"""

from __future__ import annotations

import contextvars
import errno
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from genprior.errors import InputError

_CLAIMED: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("genprior_new_outputs", default=frozenset())


@contextmanager
def new_outputs(*paths: str | os.PathLike | None, replace: bool = False) -> Iterator[None]:
    """Within the block, atomic writes to ``paths`` never replace a file (unless ``replace``).

    Commands check their outputs before any work; a file that appears at an output path
    during a long run (another run, the user) would otherwise be replaced at the end.
    """
    if replace:
        yield
        return
    token = _CLAIMED.set(_CLAIMED.get() | {os.path.abspath(p) for p in paths if p is not None})
    try:
        yield
    finally:
        _CLAIMED.reset(token)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a new empty temporary file for ``path``; move it onto ``path`` on success.

    ``suffix`` (default: the target's own) keeps libraries that look at the extension
    (``np.savez``, ``matplotlib``) writing the right format.  The temporary file is made
    in a private folder beside the target (same file system, so the final rename is
    atomic) with the usual permissions (``0666`` less the umask).

    Raises:
        InputError: ``path`` exists and is not a regular file; or it was claimed with
            :func:`new_outputs` and a file appeared there meanwhile.
    """
    target = Path(path)
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):  # never replace a link, device, FIFO or directory
        raise InputError(f"{target} exists and is not a regular file (a link, device, FIFO or directory); "
                         "refusing to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-{os.getpid()}-"))
    name = target.name if suffix is None or target.name.endswith(suffix) else target.name + suffix
    tmp = private / name
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o666 & ~_umask()))
        yield tmp
        fd = os.open(tmp, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if os.path.abspath(target) in _CLAIMED.get():
            _claim(tmp, target)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _claim(tmp: Path, target: Path) -> None:
    """Put ``tmp`` at ``target`` only if nothing is there (an exclusive hard link)."""
    try:
        os.link(tmp, target)
        return
    except FileExistsError:
        pass
    except OSError as exc:  # no hard links on this file system: claim the name, then replace it
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK):
            raise
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600))
        except FileExistsError:
            pass
        else:
            os.replace(tmp, target)
            return
    aside = target.with_name(f"{target.stem}.new-{os.getpid()}{target.suffix}")
    try:
        os.link(tmp, aside)
        kept = f"; the new result was written to {aside}"
    except OSError:
        kept = ""
    raise InputError(f"{target} appeared while this command ran and was left alone{kept}; pass `force=True` "
                     "to allow replacing it")


_TEMPORARY = re.compile(r"^\..*\.(?:tmp|link)-(\d+)(?:-|$)")


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def remove_stale_temporaries(directory: str | os.PathLike, target: str | None = None) -> list[Path]:
    """Delete temporary files (and folders) in ``directory`` left by writers that no longer run
    (only those of the file named ``target``, if given, and only this user's).

    Returns:
        The paths removed.
    """
    removed = []
    try:
        entries = list(Path(directory).iterdir())
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return removed
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if target is not None and not entry.name.startswith(f".{target}."):
            continue
        if match is None or int(match.group(1)) == os.getpid() or process_alive(int(match.group(1))):
            continue
        try:
            if os.lstat(entry).st_uid != os.geteuid():  # another user's: never ours to delete
                continue
        except OSError:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def write_atomic(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` then atomically move the result to ``path``."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
