"""Running long work off the GUI thread, one job at a time, with progress and cancellation."""

from __future__ import annotations

import threading
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from fcn_core import one_line
from fcn_core.cli import debugging


class Cancelled(Exception):
    """Raised inside a job when the user cancelled it."""


class JobContext:
    """Handed to a job: report progress, and check whether it was cancelled."""

    def __init__(self, signals: "_JobSignals") -> None:
        self._signals = signals
        self._cancel = threading.Event()

    def progress(self, done: int, total: int, text: str = "") -> None:
        self._signals.progress.emit(done, total, text)
        self.check()

    def emit(self, signal, *args) -> None:
        """Emit ``signal`` from the job's thread (delivered on the GUI thread), unless the job was cancelled."""
        if not self._cancel.is_set():
            signal.emit(*args)

    def check(self) -> None:
        if self._cancel.is_set():
            raise Cancelled()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()


class _JobSignals(QObject):
    done = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    progress = Signal(int, int, str)
    finished = Signal()


class _Job(QRunnable):
    def __init__(self, fn: Callable[[JobContext], Any], signals: _JobSignals, ctx: JobContext) -> None:
        super().__init__()
        self.fn, self.signals, self.ctx = fn, signals, ctx

    def run(self) -> None:
        try:
            result = self.fn(self.ctx)
        except Cancelled:
            self.signals.cancelled.emit()
        except Exception as e:  # noqa: BLE001 - every failure becomes a message, never a crash
            if debugging():  # --debug / FCN_WORKBENCH_DEBUG=1; otherwise the message says it all
                traceback.print_exc()
            self.signals.failed.emit(one_line(e))
        else:
            self.signals.done.emit(result)
        finally:
            self.signals.finished.emit()


class TaskRunner(QObject):
    """Runs jobs on one background thread (the model is not re-entrant); results arrive as signals."""

    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._running = 0
        self._jobs: list[_JobSignals] = []

    @property
    def busy(self) -> bool:
        return self._running > 0

    def submit(self, fn: Callable[[JobContext], Any], on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[str], None] | None = None,
               on_progress: Callable[[int, int, str], None] | None = None,
               on_cancel: Callable[[], None] | None = None) -> JobContext:
        """Queue ``fn(ctx)``; callbacks run on the GUI thread."""
        signals = _JobSignals()
        ctx = JobContext(signals)
        if on_done:
            signals.done.connect(on_done)
        if on_error:
            signals.failed.connect(on_error)
        if on_progress:
            signals.progress.connect(on_progress)
        if on_cancel:
            signals.cancelled.connect(on_cancel)
        signals.finished.connect(lambda s=signals: self._finished(s))
        self._jobs.append(signals)
        self._running += 1
        if self._running == 1:
            self.busyChanged.emit(True)
        self.pool.start(_Job(fn, signals, ctx))
        return ctx

    def _finished(self, signals: _JobSignals) -> None:
        self._jobs.remove(signals)
        self._running -= 1
        if self._running == 0:
            self.busyChanged.emit(False)

    def wait(self, msecs: int = -1) -> bool:
        return self.pool.waitForDone(msecs)
