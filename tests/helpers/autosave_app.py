"""Run the window, paint strokes through the editor and let autosave write them; print each saved stroke.

Used by the kill test: the parent kills this process at random moments and checks the workspace.
"""

import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.main_window import MainWindow


def main(model: str, folder: str, strokes: int) -> None:
    app = QApplication([])
    w = MainWindow(settings=QSettings(str(Path(folder) / "s.ini"), QSettings.Format.IniFormat))
    w.load_model([Path(model)])
    while w.meta is None:
        app.processEvents()
    w.open_paths([Path(folder)])
    while w.result is None:
        app.processEvents()
    w.set_editing(True)
    doc = w.editor.doc
    width = doc.shape[1]
    for i in range(strokes):
        doc.begin_stroke()
        doc.paint(index=np.arange(i * width, (i + 1) * width), value=1 + i % 4)
        doc.end_stroke()
        while w.editor.unsaved:  # the autosave timer writes within a second
            app.processEvents()
        print(i, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
