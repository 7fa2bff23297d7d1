"""The output policy every command follows: never clobber what a user owns.

- An output path must be a regular file (or, for a run, a directory) or not exist yet:
  device nodes, FIFOs, sockets and symbolic links are refused, so a command never
  replaces ``/dev/null`` or writes through a link.
- An output may not be one of the command's inputs, nor lie inside one (a file in the
  model directory is an input too), nor may a directory output hold an input where the
  command writes.
- An existing output is replaced only when the caller passes ``force``; all of this is
  checked before any work starts (:func:`check_output_file`, :func:`check_output_directory`),
  and an output claimed as new is put in place at the end with an exclusive link, so a
  file that appeared meanwhile is not replaced (:func:`genprior.atomic.new_outputs`).
- Files are written atomically (:mod:`genprior.atomic`); a run directory replaced with
  ``force`` is written aside and swapped in only once the replacement exists
  (:class:`ReplacedDirectory`), so a kill at any moment leaves the old run or the new one,
  and the old run is deleted only if it holds nothing but the run's own files.
- A run directory is locked while a process writes it (:class:`~genprior.locks.RunLock`).

Library callers see ``force=True`` in the messages; the CLI passes its flag names.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

from genprior.atomic import process_alive
from genprior.errors import InputError
from genprior.locks import LOCK_SUFFIX, RunLock


def _describe(mode: int) -> str | None:
    """What a non-regular file is, in words (``None`` for a regular file or a directory)."""
    for test, name in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return None


def _check_location(path: Path, label: str, want_dir: bool) -> os.stat_result | None:
    """Refuse links, special files and unusable parents; return ``lstat`` of ``path`` (``None``: absent)."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        st = None
    except OSError as exc:
        raise InputError(f"{label} {path}: cannot be used as an output ({exc.strerror})") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise InputError(f"{label} {path} is a symbolic link; genprior does not write through links: "
                             "give the real path")
        special = _describe(st.st_mode)
        if special is not None:
            raise InputError(f"{label} {path} is {special}; genprior only writes regular files")
        if want_dir and not stat.S_ISDIR(st.st_mode):
            raise InputError(f"{label} {path} is a file; give a directory")
        if not want_dir and stat.S_ISDIR(st.st_mode):
            raise InputError(f"{label} {path} is a directory; give a file name")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        if ancestor.is_symlink():  # a dangling link
            raise InputError(f"{label} {path}: {ancestor} is a broken symbolic link")
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(f"{label} {path}: {ancestor} is not a directory, so nothing can be written under it")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise InputError(f"{label} {path}: the directory {ancestor} is not writable")
    return st


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _inside(path: str, folder: str) -> bool:
    """Whether the resolved ``path`` lies strictly under the resolved ``folder``."""
    return path != folder and os.path.commonpath([path, folder]) == folder


def _check_inputs(path: Path, inputs: Iterable[str | os.PathLike | None], label: str,
                  owned: Iterable[str] | None = None) -> None:
    """Refuse an output that is an input, lies inside an input directory, or (a directory
    output whose files are ``owned``) would write where an input lies."""
    real = os.path.realpath(path)
    for item in inputs:
        if item is None:
            continue
        item = Path(item)
        where = os.path.realpath(item)
        if _same(path, item):
            raise InputError(f"{label} {path} is also an input of this command ({item}); "
                             "write the output somewhere else")
        if os.path.isdir(where) and _inside(real, where):
            raise InputError(f"{label} {path} lies inside {item}, an input of this command (every file under an "
                             "input is an input); write the output somewhere else")
        if owned is not None and any(where == os.path.join(real, name) or _inside(where, os.path.join(real, name))
                                     for name in owned):
            raise InputError(f"{label} {path} would write over {item}, an input of this command; "
                             "write the output somewhere else")


def check_output_file(path: str | os.PathLike, force: bool = False, inputs: Iterable = (), label: str = "output",
                      force_hint: str = "force=True") -> Path:
    """Check that ``path`` may be written as a new (or, with ``force``, replaced) regular file.

    Raises:
        InputError: ``path`` is a link, a device or other special file, a directory, one
            of ``inputs`` or inside one, lies under a file or an unwritable directory, or
            exists and ``force`` is false.
    """
    path = Path(path)
    st = _check_location(path, label, want_dir=False)
    _check_inputs(path, inputs, label)
    if st is not None and not force:
        raise InputError(f"{label} {path} already exists; pass {force_hint} to replace it")
    from genprior.atomic import remove_stale_temporaries

    remove_stale_temporaries(path.parent, target=path.name)  # a killed earlier write of this file
    return path


def check_output_directory(path: str | os.PathLike, force: bool = False, inputs: Iterable = (),
                           owned: Iterable[str] = (), label: str = "output directory",
                           force_hint: str = "force=True") -> Path:
    """Check that ``path`` may be used as an output directory whose files are ``owned``.

    A directory that does not exist yet, or holds none of the ``owned`` names, is fine;
    one holding some of them needs ``force`` (they will be replaced).

    Raises:
        InputError: ``path`` is a link, a file or special file, an input or inside one,
            would write over an input, lies under a file or an unwritable directory, or
            holds owned files and ``force`` is false.
    """
    path = Path(path)
    owned = tuple(owned)
    st = _check_location(path, label, want_dir=True)
    _check_inputs(path, inputs, label, owned)
    if st is not None:
        present = sorted(name for name in owned if os.path.lexists(path / name))
        for name in present:
            _check_location(path / name, label, want_dir=(path / name).is_dir() and not (path / name).is_symlink())
        if present and not force:
            raise InputError(f"{label} {path} already holds {', '.join(present)}; pass {force_hint} to replace "
                             "them, or choose another directory")
    return path


class ReplacedDirectory:
    """Write a replacement of ``directory`` aside, then swap it in: a kill never leaves neither.

    ``with ReplacedDirectory(out, foreign) as staging:`` yields a fresh private folder
    ``<parent>/.<name>.replacing-PID-XXXX`` (an exclusive ``mkdtemp``, so no folder of a
    user is ever taken for it); on a normal exit (or when :meth:`commit` is called) the
    old directory is renamed to ``.<name>.replaced-PID-XXXX``, the staging one to ``out``,
    and the old one deleted, but only if ``foreign(old)`` (the files in it that the run
    did not write) is empty: otherwise it is kept as ``<name>.old-YYYYmmdd-HHMMSS`` with
    a warning.  On an exception the staging folder is deleted and ``out`` is untouched.
    Hold a :class:`RunLock` on ``out`` around it.  :meth:`recover` (called on entry)
    finishes or undoes a swap a killed process left, touching only folders of this user
    whose names carry the pid of a process that no longer runs.
    """

    def __init__(self, directory: str | os.PathLike, foreign: Callable[[Path], list[str]] | None = None) -> None:
        self.directory = Path(os.path.abspath(directory))
        self.foreign = foreign or (lambda folder: [])
        self.staging: Path | None = None
        self.keep_on_error = False
        self._pattern = re.compile(rf"^\.{re.escape(self.directory.name)}\.(replacing|replaced)-(\d+)-[A-Za-z0-9_]+$")

    def _leftovers(self) -> list[tuple[str, Path]]:
        """``(kind, folder)`` of swaps by dead processes of this user, beside the directory."""
        out = []
        for entry in self.directory.parent.iterdir() if self.directory.parent.is_dir() else ():
            match = self._pattern.match(entry.name)
            if match is None or int(match.group(2)) == os.getpid() or process_alive(int(match.group(2))):
                continue
            st = os.lstat(entry)
            if stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid():
                out.append((match.group(1), entry))
        return out

    def recover(self) -> None:
        """Undo a swap killed between its two renames; delete leftovers of killed writers."""
        for kind, folder in self._leftovers():
            if kind == "replaced" and not os.path.lexists(self.directory):
                os.replace(folder, self.directory)  # the old run was moved away, the new one not yet in
            elif kind == "replaced":
                self._discard(folder)
            else:
                shutil.rmtree(folder, ignore_errors=True)

    def __enter__(self) -> Path:
        self.recover()
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(dir=self.directory.parent,
                                             prefix=f".{self.directory.name}.replacing-{os.getpid()}-"))
        os.chmod(self.staging, 0o777 & ~_umask())  # mkdtemp makes 0700; the run gets the usual mode
        return self.staging

    def commit(self) -> None:
        """Swap the staging directory in for the old one."""
        if self.staging is None or not self.staging.exists():
            return
        old = None
        if os.path.lexists(self.directory):
            old = Path(tempfile.mkdtemp(dir=self.directory.parent,
                                        prefix=f".{self.directory.name}.replaced-{os.getpid()}-"))
            os.replace(self.directory, old)  # onto the empty folder just made: a name no one else has
        os.replace(self.staging, self.directory)
        self.staging = None
        if old is not None:
            self._discard(old)

    def _discard(self, old: Path) -> None:
        """Delete a replaced run, or keep it under a visible name if it holds files the run did not write."""
        foreign = self.foreign(old)
        if not foreign:
            shutil.rmtree(old, ignore_errors=True)
            return
        kept = self.directory.with_name(f"{self.directory.name}.old-{time.strftime('%Y%m%d-%H%M%S')}")
        while os.path.lexists(kept):
            kept = kept.with_name(kept.name + "-1")
        os.replace(old, kept)
        warnings.warn(f"the replaced run of {self.directory} held files a training run does not write "
                      f"({', '.join(foreign[:5])}); it was kept as {kept}", stacklevel=2)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None or self.keep_on_error:
            self.commit()
        elif self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


__all__ = ["LOCK_SUFFIX", "RunLock", "ReplacedDirectory", "check_output_directory", "check_output_file"]
