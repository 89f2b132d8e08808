"""Run the window, paint strokes through the editor and let autosave write them; print each saved stroke.

Used by the kill test: the parent kills this process at random moments and checks the workspace.

``python -m tests.helpers.autosave_app MODEL FOLDER STROKES [--start I] [--autosave-ms MS] [--wait]``
paints rows ``I .. I+STROKES-1`` of the image (row ``i`` gets class ``1 + i % 4``), one stroke each, and
prints ``i`` once autosave has written row ``i``. With ``--wait`` it starts the window and loads the model,
prints ``ready``, and opens the folder only when a line arrives on stdin (``go`` or ``go START``), so the
parent can start the next run while killing the previous one.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.window.main_window import MainWindow


def main(model: str, folder: str, strokes: int, start: int = 0, autosave_ms: int | None = None,
         wait: bool = False) -> None:
    app = QApplication([])
    w = MainWindow(settings=QSettings(str(Path(folder).parent / f"s{os.getpid()}.ini"), QSettings.Format.IniFormat))
    if autosave_ms is not None:
        w.editor.save_timer.setInterval(autosave_ms)
    w.load_model([Path(model)])
    while w.meta is None:
        app.processEvents()
    if wait:
        print("ready", flush=True)
        words = sys.stdin.readline().split()
        if not words:  # the parent went away
            return
        start = int(words[1]) if len(words) > 1 else start
    w.open_paths([Path(folder)])
    while w.result is None:
        app.processEvents()
    w.set_editing(True)
    doc = w.editor.doc
    height, width = doc.shape
    for i in range(start, min(start + strokes, height)):
        doc.begin_stroke()
        doc.paint(index=np.arange(i * width, (i + 1) * width), value=1 + i % 4)
        doc.end_stroke()
        while w.editor.unsaved:  # the autosave timer writes within a second
            app.processEvents()
        print(i, flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("folder")
    p.add_argument("strokes", type=int)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--autosave-ms", type=int, default=None)
    p.add_argument("--wait", action="store_true")
    a = p.parse_args()
    main(a.model, a.folder, a.strokes, a.start, a.autosave_ms, a.wait)
