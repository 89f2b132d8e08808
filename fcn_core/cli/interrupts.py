"""Ctrl+C as a request to stop at the next safe point, for commands whose work can be cancelled cleanly."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator


@contextmanager
def interrupt_as_cancel() -> Iterator[Callable[[], bool]]:
    """Yield ``cancelled()``: SIGINT sets it instead of raising KeyboardInterrupt wherever the code happens to
    be (after an export landed, that would report a finished export as interrupted). A second Ctrl+C raises
    at once. Outside the main thread nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    hits = []

    def on_sigint(signum, frame) -> None:
        hits.append(signum)
        if len(hits) > 1:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield lambda: bool(hits)
    finally:
        signal.signal(signal.SIGINT, previous)
