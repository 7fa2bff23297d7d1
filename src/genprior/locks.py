"""The lock of a run directory: one writer at a time, and a lock file that cannot be turned against anyone.

The lock file ``<parent>/.<name>.genprior-lock`` sits beside the directory (so it never
appears inside a run and survives swapping the directory) and holds the owner's pid
under an ``flock``.  A second writer gets :class:`~genprior.errors.InputError` naming the
owner; a lock left by a process that died is taken over, because the kernel released
its ``flock``.

The lock file is made with an exclusive create that does not follow links
(``O_CREAT | O_EXCL | O_NOFOLLOW``).  An existing one is only reused if it is a regular
file of this user with a single link that holds nothing but a pid; anything else found
at its path (a symbolic link planted in a shared folder, a hard link to another file,
a FIFO, another user's file, a file with other contents) is refused with a line naming
it, and never opened for writing, truncated or removed.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

from genprior.atomic import process_alive, remove_stale_temporaries
from genprior.errors import InputError

LOCK_SUFFIX = ".genprior-lock"
_PID = re.compile(rb"^\d{0,20}\n?$")
_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class RunLock:
    """Exclusive lock of a run directory while this process writes it (see the module docstring).

    Stale temporary files of dead writers inside the directory are removed on entry.
    """

    def __init__(self, directory: str | os.PathLike) -> None:
        directory = Path(os.path.abspath(directory))
        if not directory.name:
            raise InputError(f"{directory} cannot be a run directory")
        self.directory = directory
        self.path = directory.parent / f".{directory.name}{LOCK_SUFFIX}"
        self._fd: int | None = None

    def _refuse(self, what: str) -> InputError:
        return InputError(f"the lock file {self.path} of {self.directory} is {what}, not a lock genprior made; "
                          "genprior never writes through it: remove it if no genprior process writes "
                          f"{self.directory}, then run again")

    def _open(self) -> int | None:
        """A file descriptor of the lock file, made afresh or checked (``None``: it vanished meanwhile)."""
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _FLAGS, 0o644)
        except FileExistsError:
            pass
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(st.st_mode):
            raise self._refuse("a symbolic link")
        if not stat.S_ISREG(st.st_mode):
            raise self._refuse("not a regular file")
        if st.st_uid != os.geteuid():
            raise self._refuse(f"a file of another user (uid {st.st_uid})")
        if st.st_nlink != 1:
            raise self._refuse(f"a file with {st.st_nlink} hard links")
        try:
            fd = os.open(self.path, os.O_RDWR | _FLAGS)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise self._refuse("a symbolic link") from None
            raise
        here = os.fstat(fd)
        if (here.st_dev, here.st_ino) != (st.st_dev, st.st_ino):  # swapped between lstat and open
            os.close(fd)
            raise self._refuse("changing while it is checked")
        return fd

    def acquire(self) -> RunLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(10):
            fd = self._open()
            if fd is None:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                owner = self._owner(fd)
                if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):  # no flock here: trust the pid
                    if owner is None or owner == os.getpid() or not process_alive(owner):
                        return self._take(fd)
                elif exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    raise
                os.close(fd)
                who = f"process {owner}" if owner else "another process"
                raise InputError(f"{self.directory} is being written by {who} (lock {self.path}); wait for it "
                                 "to finish or write to another directory") from None
            try:  # the file we locked may have been removed by its previous owner meanwhile
                same = os.fstat(fd).st_ino == os.lstat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            return self._take(fd)
        raise InputError(f"could not lock {self.directory}: its lock file {self.path} keeps changing")

    def _take(self, fd: int) -> RunLock:
        """Write this pid into the (checked) lock file and clean the directory."""
        os.lseek(fd, 0, os.SEEK_SET)
        if not _PID.match(os.read(fd, 64)):
            os.close(fd)
            raise self._refuse("a file with other contents than a process id")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        if self.directory.is_dir() and not self.directory.is_symlink():
            for folder in (self.directory, *(p for p in self.directory.glob("*") if p.is_dir() and not p.is_symlink())):
                remove_stale_temporaries(folder)
        return self

    @staticmethod
    def _owner(fd: int) -> int | None:
        try:
            text = os.pread(fd, 64, 0).strip()
            return int(text) if text else None
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        """Remove the lock file (only if it is still the one this process holds) and unlock."""
        if self._fd is None:
            return
        try:
            mine = os.fstat(self._fd)
            here = os.lstat(self.path)
            if (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino):
                self.path.unlink()
        except FileNotFoundError:
            pass
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


__all__ = ["LOCK_SUFFIX", "RunLock"]
