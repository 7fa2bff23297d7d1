"""Stopping on SIGTERM / SIGINT: finish the current step, save, then raise.

:class:`StopRequest` replaces the two handlers by one that sets a flag the training loop
reads after each step (a second Ctrl-C aborts at once); the loop then saves a resumable
state and raises :class:`TrainingInterrupted`, which the CLI turns into exit status
``128 + signal number``.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any


class TrainingInterrupted(RuntimeError):
    """Training stopped on SIGTERM / SIGINT after saving a resumable state at ``step``."""

    def __init__(self, step: int, signum: int, directory: Path) -> None:
        self.step, self.signum, self.directory = step, signum, directory
        name = signal.Signals(signum).name
        super().__init__(f"{name} received: stopped after step {step}; the state is saved in {directory} "
                         "(continue with `resume=True`)")


class StopRequest:
    """SIGTERM / SIGINT set a flag the loop reads after each step (a second Ctrl-C aborts)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


__all__ = ["StopRequest", "TrainingInterrupted"]
