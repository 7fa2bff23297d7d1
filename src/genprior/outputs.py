"""The output policy every command follows: never clobber what a user owns.

- An output path must be a regular file (or, for a run, a directory) or not exist yet:
  device nodes, FIFOs, sockets and symbolic links are refused, so a command never
  replaces ``/dev/null`` or writes through a link.
- An output may not be one of the command's own inputs (the data file, a model).
- An existing output is replaced only when the caller passes ``force``; all of this is
  checked before any work starts (:func:`check_output_file`, :func:`check_output_directory`).
- Files are written atomically (:mod:`genprior.atomic`); a run directory replaced with
  ``force`` is written aside and swapped in only once the replacement exists
  (:class:`ReplacedDirectory`), so a kill at any moment leaves the old run or the new one.
- A run directory is locked while a process writes it (:class:`RunLock`): a lock file
  beside it holds the writer's pid under an ``flock``; a second writer gets a clear
  error, and the lock of a dead process is taken over (the kernel drops its ``flock``).

Library callers see ``force=True`` in the messages; the CLI passes its flag names.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path

from genprior.atomic import process_alive, remove_stale_temporaries
from genprior.errors import InputError

LOCK_SUFFIX = ".genprior-lock"


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
        return os.path.abspath(a) == os.path.abspath(b)


def _check_inputs(path: Path, inputs: Iterable[str | os.PathLike | None], label: str) -> None:
    for item in inputs:
        if item is None:
            continue
        item = Path(item)
        if _same(path, item):
            raise InputError(f"{label} {path} is also an input of this command ({item}); "
                             "write the output somewhere else")


def check_output_file(path: str | os.PathLike, force: bool = False, inputs: Iterable = (), label: str = "output",
                      force_hint: str = "force=True") -> Path:
    """Check that ``path`` may be written as a new (or, with ``force``, replaced) regular file.

    Raises:
        ValueError: ``path`` is a link, a device or other special file, a directory, one
            of ``inputs``, lies under a file or an unwritable directory, or exists and
            ``force`` is false.
    """
    path = Path(path)
    st = _check_location(path, label, want_dir=False)
    _check_inputs(path, inputs, label)
    if st is not None and not force:
        raise InputError(f"{label} {path} already exists; pass {force_hint} to replace it")
    remove_stale_temporaries(path.parent, target=path.name)  # a killed earlier write of this file
    return path


def check_output_directory(path: str | os.PathLike, force: bool = False, inputs: Iterable = (),
                           owned: Iterable[str] = (), label: str = "output directory",
                           force_hint: str = "force=True") -> Path:
    """Check that ``path`` may be used as an output directory whose files are ``owned``.

    A directory that does not exist yet, or holds none of the ``owned`` names, is fine;
    one holding some of them needs ``force`` (they will be replaced).

    Raises:
        ValueError: ``path`` is a link, a file or special file, an input, lies under a
            file or an unwritable directory, or holds owned files and ``force`` is false.
    """
    path = Path(path)
    st = _check_location(path, label, want_dir=True)
    _check_inputs(path, inputs, label)
    if st is not None:
        present = sorted(name for name in owned if os.path.lexists(path / name))
        for name in present:
            _check_location(path / name, label, want_dir=(path / name).is_dir() and not (path / name).is_symlink())
        if present and not force:
            raise InputError(f"{label} {path} already holds {', '.join(present)}; pass {force_hint} to replace "
                             "them, or choose another directory")
    return path


class RunLock:
    """Exclusive lock of a run directory while this process writes it.

    The lock file ``<parent>/.<name>.genprior-lock`` (beside the directory, so it never
    appears inside a run and survives swapping the directory) holds the owner's pid and
    an ``flock``.  A second writer gets ``ValueError`` naming the owner; a lock left by a
    process that died is taken over, because the kernel released its ``flock``.
    Stale temporary files of dead writers inside the directory are removed on entry.
    """

    def __init__(self, directory: str | os.PathLike) -> None:
        directory = Path(os.path.abspath(directory))
        if not directory.name:
            raise InputError(f"{directory} cannot be a run directory")
        self.directory = directory
        self.path = directory.parent / f".{directory.name}{LOCK_SUFFIX}"
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                owner = self._owner()
                if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):  # no flock here: trust the pid
                    if owner is None or owner == os.getpid() or not process_alive(owner):
                        self.path.write_text(f"{os.getpid()}\n", encoding="ascii")
                        self._fd = os.open(self.path, os.O_RDONLY)
                        return self._clean()
                elif exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                who = f"process {owner}" if owner else "another process"
                raise InputError(f"{self.directory} is being written by {who} (lock {self.path}); wait for it "
                                 "to finish or write to another directory") from None
            try:  # the file we locked may have been removed by its previous owner meanwhile
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd
            return self._clean()
        raise InputError(f"could not lock {self.directory}: its lock file {self.path} keeps changing")

    def _clean(self) -> RunLock:
        """Remove temporaries that dead writers left in the directory and its subfolders."""
        if self.directory.is_dir():
            for folder in (self.directory, *(p for p in self.directory.glob("*") if p.is_dir())):
                remove_stale_temporaries(folder)
        return self

    def _owner(self) -> int | None:
        try:
            text = self.path.read_text(encoding="ascii").strip()
            return int(text) if text else None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


class ReplacedDirectory:
    """Write a replacement of ``directory`` aside, then swap it in: a kill never leaves neither.

    ``with ReplacedDirectory(out) as staging:`` yields ``<parent>/.<name>.replacing``
    (fresh); on a normal exit (or when ``commit`` is called) the old directory is renamed
    to ``.<name>.replaced``, the staging one to ``out``, and the old one deleted.  On an
    exception the staging directory is deleted and ``out`` is untouched.  Hold a
    :class:`RunLock` on ``out`` around it.  :func:`recover` (called on entry) finishes or
    undoes a swap a kill interrupted.
    """

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(os.path.abspath(directory))
        self.staging = self.directory.parent / f".{self.directory.name}.replacing"
        self.old = self.directory.parent / f".{self.directory.name}.replaced"
        self.keep_on_error = False

    def recover(self) -> None:
        """Undo a swap killed between its two renames; delete leftovers of killed writers."""
        if self.old.exists():
            if not self.directory.exists():
                os.replace(self.old, self.directory)  # the old run was moved away, the new one not yet in
            else:
                shutil.rmtree(self.old, ignore_errors=True)
        shutil.rmtree(self.staging, ignore_errors=True)

    def __enter__(self) -> Path:
        self.recover()
        self.staging.mkdir(parents=True)
        return self.staging

    def commit(self) -> None:
        """Swap the staging directory in for the old one."""
        if not self.staging.exists():
            return
        if self.directory.exists():
            os.replace(self.directory, self.old)
        os.replace(self.staging, self.directory)
        shutil.rmtree(self.old, ignore_errors=True)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None or self.keep_on_error:
            self.commit()
        else:
            shutil.rmtree(self.staging, ignore_errors=True)


__all__ = ["RunLock", "ReplacedDirectory", "check_output_directory", "check_output_file"]
