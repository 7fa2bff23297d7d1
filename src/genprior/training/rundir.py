"""What a training run writes in its directory, and what ``--force`` and ``--resume`` may touch.

The run's own files are fixed by the layout below (the manifest :data:`RUN_FILES` and the
names inside its two folders); everything else in a run directory is the user's:
``model.safetensors``, ``config.json``, ``losses.csv``, ``samples.png``,
``samples/step-NNNNNN.png``, ``training-state/LATEST`` and
``training-state/step-NNNNNNNNN/{model.safetensors, optimisers.safetensors, state.json}``,

plus genprior's own temporary files (``.NAME.tmp-PID-...``, ``.NAME.link-PID``).
Replacing a run (``force``) deletes the old directory only if it holds nothing else:
a user's file anywhere in it (hidden ones and folders such as ``.git/`` included) makes
:func:`check_run_directory` refuse with a line naming it.  A symbolic link or special
file where the run writes is refused too, so a resumed run never writes through a link.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from genprior.errors import InputError
from genprior.models.checkpoint import CONFIG, WEIGHTS
from genprior.training import state

LOSSES = "losses.csv"
SAMPLES = "samples.png"
SAMPLE_HISTORY = "samples"  # samples/step-NNNNNN.png, one grid per sample_every steps
RUN_FILES = (WEIGHTS, CONFIG, state.STATE_DIR, LOSSES, SAMPLES, SAMPLE_HISTORY)  # what a run writes
_FOLDERS = {SAMPLE_HISTORY, state.STATE_DIR}
_SAMPLE = re.compile(r"^step-\d+\.png$")
_STATE = re.compile(r"^step-\d+$")
_STATE_FILES = {WEIGHTS, state.OPTIMISERS, state.STATE}
_TEMPORARY = re.compile(r"^\..+\.(?:tmp|link)-\d+(?:-.*)?$")


def run_files(directory: Path) -> list[str]:
    """The names in ``directory`` that a training run writes (:data:`RUN_FILES`), sorted."""
    return sorted(name for name in RUN_FILES if os.path.lexists(directory / name))


def _kind(path: Path) -> str:
    """``"dir"``, ``"file"`` or ``"other"`` (a link, FIFO, device, socket) without following links."""
    mode = os.lstat(path).st_mode
    return "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"


def _own(relative: tuple[str, ...], kind: str) -> bool:
    """Whether the entry at ``relative`` (path parts under the run directory) is one the run writes."""
    name = relative[-1]
    if _TEMPORARY.match(name):
        return kind in ("file", "dir")
    if len(relative) == 1:
        return name in RUN_FILES and kind == ("dir" if name in _FOLDERS else "file")
    if relative[0] == SAMPLE_HISTORY and len(relative) == 2:
        return kind == "file" and bool(_SAMPLE.match(name))
    if relative[0] == state.STATE_DIR and len(relative) == 2:
        return (kind == "file" and name == state.LATEST) or (kind == "dir" and bool(_STATE.match(name)))
    if relative[0] == state.STATE_DIR and len(relative) == 3:
        return kind == "file" and name in _STATE_FILES
    return False


def foreign_files(directory: str | os.PathLike) -> list[str]:
    """Paths (relative, sorted) of what in ``directory`` a training run did not write: files,
    folders, links and special files, hidden ones included; a foreign folder is named once."""
    directory = Path(directory)
    found: list[str] = []

    def walk(folder: Path, parts: tuple[str, ...]) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            relative = (*parts, entry.name)
            kind = _kind(Path(entry.path))
            if not _own(relative, kind):
                found.append("/".join(relative) + ("/" if kind == "dir" else ""))
            elif kind == "dir" and not _TEMPORARY.match(entry.name):
                walk(Path(entry.path), relative)

    walk(directory, ())
    return found


def check_run_directory(out_dir: str | os.PathLike, resume: bool = False, force: bool = False) -> bool:
    """Whether training into ``out_dir`` replaces an existing run (``force``).

    Raises:
        InputError: ``out_dir`` holds files of a run and neither ``resume`` nor ``force``
            is given; ``force`` is given but the directory also holds files the run did
            not write (named in the message); a name the run writes is a link or a
            special file.
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return False
    present = run_files(out_dir)
    odd = [name for name in present if _kind(out_dir / name) != ("dir" if name in _FOLDERS else "file")]
    if odd:
        raise InputError(f"{out_dir / odd[0]} is a symbolic link or another kind of file than a run writes there; "
                         "genprior does not write through links: move it away or choose another directory")
    if resume or not present:
        return False
    if not force:
        what = "a checkpoint" if state.has_checkpoint(out_dir) else f"files of a training run ({', '.join(present)})"
        raise InputError(f"{out_dir} already holds {what}; pass `resume=True` to continue it or "
                         "`force=True` to replace it")
    foreign = foreign_files(out_dir)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise InputError(f"{out_dir} also holds files a training run does not write ({shown}); replacing the run "
                         "would delete them: move them or choose another directory")
    return True


__all__ = ["LOSSES", "RUN_FILES", "SAMPLES", "SAMPLE_HISTORY", "check_run_directory", "foreign_files", "run_files"]
