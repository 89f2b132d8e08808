"""Thumbnails made off the GUI thread: square, padded icons for the list of images."""

from __future__ import annotations

import atexit
import threading
import weakref
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QThreadPool, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap

from fcn_core.messages import one_line
from fcn_core.storage.image_io import read_thumbnail


def square_image(rgb: np.ndarray, size: int) -> QImage:
    """``rgb`` (already ≤ ``size``) centred on a transparent size×size canvas, so odd shapes give normal rows."""
    h, w = min(rgb.shape[0], size), min(rgb.shape[1], size)
    canvas = np.zeros((size, size, 4), np.uint8)
    y, x = (size - h) // 2, (size - w) // 2
    canvas[y:y + h, x:x + w, :3] = rgb[:h, :w]
    canvas[y:y + h, x:x + w, 3] = 255
    return QImage(canvas.data, size, size, size * 4, QImage.Format.Format_RGBA8888).copy()  # copy: owns its pixels


class _Relay(QObject):
    """Carries a finished job back; parentless, so a job still running keeps it alive after the loader is gone."""

    done = Signal(object, object, object, str)  # cancel token, path, QImage or None, error sentence


def _make(path: Path, size: int, token: threading.Event, relay: _Relay) -> None:
    """Runs on a pool thread: read, shrink and pad one image (QImage is safe off the GUI thread, QPixmap is not)."""
    if token.is_set():
        return
    try:
        image, error = square_image(read_thumbnail(path, size), size), ""
    except Exception as e:  # noqa: BLE001 - one bad file must not end the thumbnails of the others
        image, error = None, one_line(e)
    if not token.is_set():
        try:
            relay.done.emit(token, path, image, error)
        except RuntimeError:  # the relay was deleted (the app is closing): nobody wants the result
            pass


class ThumbnailLoader(QObject):
    """Makes size×size thumbnails on 1–2 pool threads; ``ready``/``failed`` arrive on the GUI thread."""

    ready = Signal(object, QIcon)  # path, icon
    failed = Signal(object, str)  # path, why it has no thumbnail

    def __init__(self, size: int, parent: QObject | None = None, threads: int = 2) -> None:
        super().__init__(parent)
        self.size = size
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)  # few threads: the GUI and inference need the cores more
        self._token = threading.Event()  # set = everything requested before it was cancelled
        self._relay = _Relay()
        # queued: jobs emit from pool threads, the QPixmap must be made here on the GUI thread
        self._relay.done.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self.destroyed.connect(self._pool.clear)  # don't let the pool's destructor wait for the whole queue
        _LIVE.add(self)

    def request(self, path: Path) -> None:
        """Queue one thumbnail; its ``ready`` or ``failed`` comes later."""
        self._pool.start(partial(_make, Path(path), self.size, self._token, self._relay))

    def cancel(self) -> None:
        """Drop the queued jobs and ignore the results of those already running."""
        self._token.set()
        self._token = threading.Event()
        self._pool.clear()

    def wait(self, msecs: int = 5000) -> bool:
        """Wait for the running jobs (tests, shutdown)."""
        return self._pool.waitForDone(msecs)

    def _deliver(self, token: threading.Event, path: Path, image: QImage | None, error: str) -> None:
        if token.is_set():
            return  # cancelled after it had started
        if image is None:
            self.failed.emit(path, error)
        else:
            self.ready.emit(path, QIcon(QPixmap.fromImage(image)))


_LIVE: weakref.WeakSet[ThumbnailLoader] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    """Finish the running jobs before Python shuts down: a pool thread waking into a finalizing interpreter aborts."""
    for loader in list(_LIVE):
        try:
            loader.cancel()
            loader.wait()
        except RuntimeError:  # its Qt side is already gone, and with it its pool
            pass
