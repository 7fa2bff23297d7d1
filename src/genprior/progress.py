"""Progress of a long loop: a bar on a terminal, a plain line every few seconds in a log.

A redrawn bar is what a person watching a terminal wants; in a log (CI, ``make demo >
log``) every redraw would be kept, so without a terminal on stderr the bar is written
as whole lines, at most one per ``interval`` seconds (and one at the end).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO


class _Lines:
    """A stream for tqdm that turns each carriage-return redraw into one line of ``stream``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        text = text.replace("\r", "").strip("\n")
        if text.strip():
            self.stream.write(text + "\n")

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(total: int, desc: str, enabled: bool = True, interval: float = 10.0, **options: Any):
    """A ``tqdm`` bar over ``total`` units: redrawn on a terminal, else a line per ``interval`` s.

    Args:
        total: the number of units (e.g. training steps).
        desc: the label in front of the bar.
        enabled: ``False`` gives a bar that prints nothing.
        interval: seconds between lines when stderr is not a terminal.
        **options: more ``tqdm`` options (``initial``, ``unit`` ...).
    """
    from tqdm.auto import tqdm

    if sys.stderr.isatty():
        return tqdm(total=total, desc=desc, disable=not enabled, dynamic_ncols=True, **options)
    return tqdm(total=total, desc=desc, disable=not enabled, file=_Lines(sys.stderr), ncols=100,
                mininterval=interval, maxinterval=interval, **options)
