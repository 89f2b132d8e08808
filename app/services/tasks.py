"""Running long work off the GUI thread, one job at a time, with progress and cancellation."""

from __future__ import annotations

import atexit
import threading
import traceback
import weakref
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
        self.emit(self._signals.progress, done, total, text)
        self.check()

    def emit(self, signal, *args) -> None:
        """Emit ``signal`` from the job's thread (delivered on the GUI thread), unless the job was cancelled.
        A receiver that is gone (the window closed while the job ran) cancels the job: nobody wants its result."""
        if not self._cancel.is_set():
            try:
                signal.emit(*args)
            except RuntimeError:  # "Signal source has been deleted"
                self._cancel.set()

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
            self._tell(self.signals.cancelled)
        except Exception as e:  # noqa: BLE001 - every failure becomes a message, never a crash
            if debugging():  # --debug / FCN_WORKBENCH_DEBUG=1; otherwise the message says it all
                traceback.print_exc()
            self._tell(self.signals.failed, one_line(e))
        else:
            self._tell(self.signals.done, result)
        finally:
            self._tell(self.signals.finished)

    @staticmethod
    def _tell(signal, *args) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the runner was deleted (the window closed while the job ran): nobody listens
            pass


class TaskRunner(QObject):
    """Runs jobs on one background thread (the model is not re-entrant); results arrive as signals."""

    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._running = 0
        self._jobs: list[_JobSignals] = []
        self._contexts: weakref.WeakSet[JobContext] = weakref.WeakSet()  # to cancel them all at exit
        self._stopped = threading.Event()  # set by stop(): no more callbacks (a plain flag outlives the QObject)
        _LIVE.add(self)

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
        self._contexts.add(ctx)
        stopped = self._stopped
        for signal, callback in ((signals.done, on_done), (signals.failed, on_error),
                                 (signals.progress, on_progress), (signals.cancelled, on_cancel),
                                 (signals.finished, lambda s=signals: self._finished(s))):
            if callback is not None:  # after stop() the window that asked is gone: nobody is told
                signal.connect(lambda *a, fn=callback: None if stopped.is_set() else fn(*a))
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

    def stop(self, msecs: int = -1) -> bool:
        """Cancel every job, queued or running, drop their callbacks (the window is closing) and wait for the
        running one to reach its next check."""
        self._stopped.set()
        for ctx in list(self._contexts):
            ctx.cancel()
        return self.wait(msecs)


_LIVE: weakref.WeakSet[TaskRunner] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """Stop the jobs still running before Python shuts down: a pool thread running into a finalizing
    interpreter aborts the process (a window closed while a folder run went on)."""
    for runner in list(_LIVE):
        try:
            runner.stop(30000)
        except RuntimeError:  # its Qt side is already gone, and with it its pool
            pass
