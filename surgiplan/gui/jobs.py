"""Background jobs: run a core function off the GUI thread with progress and Cancel.

A job is any callable taking ``progress`` (the core's :class:`Progress` protocol).
It runs in a QThreadPool worker; its ``progress.update`` calls are forwarded to
the GUI thread through queued signals, and Cancel sets a :class:`CancelToken`
that the core checks at its safe points (``report`` raises ``Cancelled``).
Results and errors come back on the GUI thread: ``on_done(result)`` runs only on
success, so a failing or cancelled job leaves the case exactly as it was.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6 import QtCore

from surgiplan.core.errors import Cancelled, SurgiplanError
from surgiplan.core.jobs import CancelToken


class _Signals(QtCore.QObject):
    progress = QtCore.Signal(float, str)
    partial = QtCore.Signal(object)
    done = QtCore.Signal(object)
    failed = QtCore.Signal(str)
    cancelled = QtCore.Signal()


class QtProgress:
    """A core Progress whose updates are emitted as Qt signals (thread-safe)."""

    def __init__(self, signals: _Signals, token: CancelToken) -> None:
        self._signals = signals
        self._token = token

    def update(self, fraction: float, message: str = "") -> None:
        self._signals.progress.emit(float(fraction), str(message))

    @property
    def cancelled(self) -> bool:
        return self._token.cancelled

    def partial(self, value: Any) -> None:
        """Hand an intermediate result (e.g. the first slices) to the GUI thread."""
        self._signals.partial.emit(value)


class Job(QtCore.QRunnable):
    """One background call ``fn(progress)``."""

    def __init__(self, title: str, fn: Callable[[QtProgress], Any]) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.title = title
        self.fn = fn
        self.token = CancelToken()
        self.signals = _Signals()
        self.progress = QtProgress(self.signals, self.token)

    def run(self) -> None:  # worker thread
        try:
            result = self.fn(self.progress)
        except Cancelled:
            self.signals.cancelled.emit()
        except SurgiplanError as exc:
            self.signals.failed.emit(str(exc))
        except MemoryError:
            self.signals.failed.emit(f"{self.title}: not enough memory. Close other cases or "
                                     "use a smaller scan.")
        except Exception as exc:  # noqa: BLE001 - shown to the user, with the trace in the log
            traceback.print_exc()
            self.signals.failed.emit(f"{self.title} failed: {type(exc).__name__}: {exc}")
        else:
            self.signals.done.emit(result)


class JobRunner(QtCore.QObject):
    """Runs one job at a time and reports through signals the status bar listens to."""

    started = QtCore.Signal(str)
    #: Emitted just before a finished job's ``on_done`` runs (the window marks its status there).
    finishing = QtCore.Signal(str)
    progressed = QtCore.Signal(float, str)
    finished = QtCore.Signal(str, bool, str)  # title, ok, message

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QtCore.QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.current: Job | None = None

    @property
    def busy(self) -> bool:
        return self.current is not None

    def submit(
        self,
        title: str,
        fn: Callable[[QtProgress], Any],
        on_done: Callable[[Any], None] | None = None,
        on_partial: Callable[[Any], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
    ) -> Job | None:
        """Start ``fn(progress)`` in the background; None (and a message) if a job is running."""
        if self.current is not None:
            self.finished.emit(title, False, f"Wait for '{self.current.title}' to finish "
                               "or cancel it first.")
            return None
        job = Job(title, fn)
        self.current = job

        def finish(ok: bool, message: str) -> None:
            if self.current is job:
                self.current = None
            self.finished.emit(title, ok, message)

        def done(result: Any) -> None:
            if self.current is job:
                self.current = None  # on_done may start the next job
            self.finishing.emit(title)
            try:
                if on_done is not None:
                    on_done(result)
            except SurgiplanError as exc:
                finish(False, str(exc))
                return
            except Exception as exc:  # noqa: BLE001 - a bug in on_done must not leave the bar up
                import logging

                logging.getLogger(__name__).exception("%s: finishing failed", title)
                finish(False, f"{title}: could not finish ({type(exc).__name__}: {exc}); "
                       "please report this with the log.")
                return
            finish(True, f"{title}: done")

        def failed(msg: str) -> None:
            if on_failed is not None:
                on_failed(msg)
            finish(False, msg)

        job.signals.progress.connect(self.progressed)
        if on_partial is not None:
            job.signals.partial.connect(on_partial)
        job.signals.done.connect(done)
        job.signals.failed.connect(failed)
        job.signals.cancelled.connect(lambda: finish(False, f"{title}: cancelled; nothing changed."))
        self.started.emit(title)
        self.pool.start(job)
        return job

    def cancel(self) -> None:
        """Ask the running job to stop at its next safe point."""
        if self.current is not None:
            self.current.token.cancel()

    def wait(self, msecs: int = 60000) -> bool:
        """Block until the pool is idle (used on close and in tests)."""
        return self.pool.waitForDone(msecs)
