"""The correcting window of the GUI editing tests: a tiny random model, two 60×80 images, edit mode on,
and real mouse strokes in image coordinates."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, QSettings, Qt
from PySide6.QtTest import QTest

from app.main_window import MainWindow
from fcn_core import FCNBundle, save_checkpoint
from tests.conftest import randomize, tiny_meta


@pytest.fixture
def win(qtbot, tmp_path):
    model = tmp_path / "tiny.pt"
    save_checkpoint(randomize(FCNBundle(tiny_meta(n_class=5))), model)
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    w = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.resize(1300, 850)
    w.show()
    w.load_model([model])
    qtbot.waitUntil(lambda: w.meta is not None, timeout=20000)
    w.open_paths([folder])
    qtbot.waitUntil(lambda: w.result is not None, timeout=20000)
    w.set_editing(True)
    qtbot.waitUntil(lambda: w.editor.doc is not None, timeout=5000)
    yield w
    w.editor.save()
    w.service.runner.wait(10000)


def widget_pos(w, x, y):
    view = w.single
    scene = w.single.pane.mapViewToScene(QPointF(x, y))
    return view.mapFromScene(scene)


def drag(qtbot, w, points):
    vp = w.single.viewport()
    first = widget_pos(w, *points[0])
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, first)
    for x, y in points[1:]:
        QTest.mouseMove(vp, widget_pos(w, x, y))
        qtbot.wait(5)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_pos(w, *points[-1]))


def click(qtbot, w, x, y):
    QTest.mouseClick(w.single.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_pos(w, x, y))
