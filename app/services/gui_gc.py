"""Python's cycle collector runs on the GUI thread only.

Left automatic, it runs in whichever thread happens to allocate: a model-loading worker could collect a closed
window's widgets, destroying QObjects off the GUI thread while the GUI thread deleted others, and the two
deadlocked on Qt's object mutex (seen in the window tests: a worker in ``~QObject`` under ``gc_collect_main``).
pyqtgraph's :class:`GarbageCollector` disables automatic collection and collects on a GUI-thread timer instead.
"""

from __future__ import annotations

from pyqtgraph.util.garbage_collector import GarbageCollector

_collector: GarbageCollector | None = None
INTERVAL_S = 1.0


def collect_in_gui_thread() -> None:
    """Start the GUI-thread collector (once per process; call it on the GUI thread with a QApplication)."""
    global _collector
    if _collector is None:
        _collector = GarbageCollector(interval=INTERVAL_S)
