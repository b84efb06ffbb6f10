"""Progress reporting and cancellation for long operations.

A function that can take more than a second accepts ``progress: Progress | None``
and calls :func:`report` at safe points. ``report`` raises :class:`Cancelled`
when the user asked to stop. The CLI shows a terminal bar, the GUI a status-bar
bar with a Cancel button; tests use :class:`RecordingProgress`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from surgiplan.core.errors import Cancelled


@runtime_checkable
class Progress(Protocol):
    """Receiver of progress reports.

    ``update(fraction, message)`` takes a fraction in [0, 1] and a short message;
    ``cancelled`` is True once the user asked to stop.
    """

    def update(self, fraction: float, message: str = "") -> None: ...

    @property
    def cancelled(self) -> bool: ...


class CancelToken:
    """A thread-safe flag a GUI or signal handler sets to ask a job to stop."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


def report(progress: Progress | None, fraction: float, message: str = "") -> None:
    """Report ``fraction`` (0..1) to ``progress`` and raise Cancelled if asked to stop."""
    if progress is None:
        return
    if progress.cancelled:
        raise Cancelled()
    progress.update(min(max(float(fraction), 0.0), 1.0), message)


def check_cancelled(progress: Progress | None) -> None:
    """Raise :class:`Cancelled` if the user asked to stop."""
    if progress is not None and progress.cancelled:
        raise Cancelled()


@dataclass
class SubProgress:
    """Maps a sub-task's 0..1 onto the range [start, stop] of a parent progress."""

    parent: Progress | None
    start: float
    stop: float

    def update(self, fraction: float, message: str = "") -> None:
        if self.parent is not None:
            self.parent.update(self.start + (self.stop - self.start) * fraction, message)

    @property
    def cancelled(self) -> bool:
        return self.parent is not None and self.parent.cancelled


def sub_progress(progress: Progress | None, start: float, stop: float) -> Progress | None:
    """A Progress covering [start, stop] of ``progress`` (None stays None)."""
    return None if progress is None else SubProgress(progress, start, stop)


def track[T](
    items: Iterable[T], progress: Progress | None, message: str, total: int | None = None
) -> Iterator[T]:
    """Iterate ``items`` reporting progress after each, checking for cancel."""
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    for i, item in enumerate(items):
        check_cancelled(progress)
        yield item
        if progress is not None and total:
            progress.update((i + 1) / total, message)


@dataclass
class RecordingProgress:
    """A Progress that records every update; can cancel itself after N updates (tests)."""

    cancel_after: int | None = None
    updates: list[tuple[float, str]] = field(default_factory=list)
    token: CancelToken = field(default_factory=CancelToken)

    def update(self, fraction: float, message: str = "") -> None:
        self.updates.append((fraction, message))
        if self.cancel_after is not None and len(self.updates) >= self.cancel_after:
            self.token.cancel()

    @property
    def cancelled(self) -> bool:
        return self.token.cancelled


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` exists on this host (also when it belongs to another user)."""
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True
