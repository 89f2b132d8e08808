"""Real mouse strokes on the window's single view, in image coordinates."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest


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
