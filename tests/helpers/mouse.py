"""Real mouse strokes on the window's single view, in image coordinates."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

# pyqtgraph drops a mouse move that follows the previous one within 1000 / mouseRateLimit ms (10 ms by
# default); a person's moves are that far apart, and a test's must be too, or a drag can arrive as a click
MOVE_GAP_MS = 15


def widget_pos(w, x, y):
    view = w.single
    scene = w.single.pane.mapViewToScene(QPointF(x, y))
    return view.mapFromScene(scene)


def drag(qtbot, w, points):
    vp = w.single.viewport()
    first = widget_pos(w, *points[0])
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, first)
    for x, y in points[1:]:
        qtbot.wait(MOVE_GAP_MS)
        QTest.mouseMove(vp, widget_pos(w, x, y))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_pos(w, *points[-1]))


def move(qtbot, w, x, y):
    """The mouse moves to image (x, y), a button held or not."""
    qtbot.wait(MOVE_GAP_MS)
    QTest.mouseMove(w.single.viewport(), widget_pos(w, x, y))


def click(qtbot, w, x, y):
    QTest.mouseClick(w.single.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_pos(w, x, y))
