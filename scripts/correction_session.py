"""A scripted correction session on the sample images, in a real window (run it under Xvfb).

It copies the samples to a scratch folder, corrects three of them (mouse strokes in the window, then
the remaining errors painted class by class as an annotator would), exports the corrections,
fine-tunes the demo model on them, loads the result, and saves screenshots of each stage.

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python scripts/correction_session.py OUT_DIR
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.window.main_window import MainWindow  # noqa: E402
from fcn_core import DEMO_MODEL, SAMPLES, make_scene  # noqa: E402


def wait(app: QApplication, cond, ms: int = 120000) -> None:
    waited = 0
    while not cond() and waited < ms:
        QTest.qWait(25)
        waited += 25
    if not cond():
        raise TimeoutError("the window did not finish in time")


def drag(w: MainWindow, points) -> None:
    view, pane = w.single, w.single.pane
    pos = [view.mapFromScene(pane.mapViewToScene(QPointF(x, y))) for x, y in points]
    QTest.mousePress(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos[0])
    for p in pos[1:]:
        QTest.mouseMove(view.viewport(), p)
        QTest.qWait(10)
    QTest.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos[-1])


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    work = out / "photos"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(SAMPLES, work)
    app = QApplication([])
    w = MainWindow(settings=QSettings(str(out / "settings.ini"), QSettings.Format.IniFormat))
    w.resize(1400, 880)
    w.show()
    w.load_model([DEMO_MODEL])
    wait(app, lambda: w.meta is not None)
    w.open_paths([work])
    wait(app, lambda: w.result is not None)
    w.set_editing(True)
    wait(app, lambda: w.editor.doc is not None)
    for i in range(3):
        name = f"scene_{i + 1:02d}.jpg"
        w.show_path(work / name)
        wait(app, lambda: w.editor.path is not None and w.editor.path.name == name)
        doc, truth = w.editor.doc, make_scene(2026, i, (192, 256)).labels
        w.edit_panel.class_box.setCurrentIndex(2)  # a wire stroke by hand, to see the brush at work
        w.edit_panel.set_radius(2)
        drag(w, [(20, 170), (60, 168), (100, 172)])
        if i == 0:
            w.grab().save(str(out / "editing.png"))
        for c in range(len(w.meta.classes)):  # then the annotator fixes every remaining error, class by class
            wrong = np.flatnonzero((truth == c).ravel() & (doc.labels.ravel() != c))
            if wrong.size:
                doc.begin_stroke(f"fix {w.meta.classes[c]}")
                doc.paint(index=wrong, value=c)
                w.editor._commit(f"fix {w.meta.classes[c]}")
        w.editor.save()
        print(f"{name}: corrected, {int(doc.verified.sum())} pixels verified", flush=True)
    w.grab().save(str(out / "corrected.png"))
    export = out / "export"
    shutil.rmtree(export, ignore_errors=True)
    w.export_to(export)
    wait(app, lambda: (export / "ImageSets/Segmentation/trainval.txt").exists())
    w.service.runner.wait()
    print("exported to", export, flush=True)
    old = w.meta
    dialog = w.finetune(iterations=40)
    wait(app, lambda: dialog.result is not None or "failed" in dialog.label.text(), 900000)
    print(dialog.label.text(), flush=True)
    w.grab().save(str(out / "finetune_done.png"))
    wait(app, lambda: w.meta is not old)
    dialog.close()
    w.set_editing(False)
    w.show_path(work / "scene_05.jpg")
    wait(app, lambda: w.result is not None and w.result.path.name == "scene_05.jpg")
    QTest.qWait(300)
    w.grab().save(str(out / "after_finetune.png"))
    w.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "out/session"))
