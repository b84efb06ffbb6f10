"""A terminal progress bar that implements the core's Progress protocol.

Ctrl+C sets the cancel flag; the core stops at its next safe point and raises
Cancelled, so nothing is left half-written.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from surgiplan.core.jobs import CancelToken


class TerminalProgress:
    """Progress shown with rich on stderr (quiet when stderr is not a terminal)."""

    def __init__(self, description: str, enabled: bool | None = None) -> None:
        self.token = CancelToken()
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar = None
        if not self.enabled:  # nothing to show: rich is not even imported (0.03 s of CPU at start)
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[message]}"),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = self._bar.add_task(description, total=1.0, message="")

    def update(self, fraction: float, message: str = "") -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=fraction, message=message)

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled

    def __enter__(self) -> TerminalProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()


@contextmanager
def terminal_progress(description: str) -> Iterator[TerminalProgress]:
    """A TerminalProgress whose Ctrl+C asks the running job to stop cleanly."""
    bar = TerminalProgress(description)
    previous = signal.getsignal(signal.SIGINT)

    def _on_sigint(signum, frame):  # first Ctrl+C: ask nicely; second: default
        bar.token.cancel()
        signal.signal(signal.SIGINT, previous)

    try:
        signal.signal(signal.SIGINT, _on_sigint)
    except ValueError:  # not the main thread
        pass
    try:
        with bar:
            yield bar
    finally:
        try:
            signal.signal(signal.SIGINT, previous)
        except ValueError:
            pass
