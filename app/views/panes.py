"""Image panes: a ViewBox showing an image with an overlay, hover readout and a synced cursor."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)


class PaintableImageItem(pg.ImageItem):
    """An ImageItem that hands left-button presses, drags and clicks to a tool handler when one is set."""

    def __init__(self) -> None:
        super().__init__()
        self.handler = None  # object with press(x, y), move(x, y), release(); None: the view pans

    def mouseDragEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph naming
        if self.handler is None or ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        p = ev.pos()
        if ev.isStart():
            start = ev.buttonDownPos()
            self.handler.press(start.x(), start.y())
            self.handler.move(p.x(), p.y())
        elif ev.isFinish():
            self.handler.move(p.x(), p.y())
            self.handler.release()
        else:
            self.handler.move(p.x(), p.y())

    def mouseClickEvent(self, ev) -> None:  # noqa: N802
        if self.handler is None or ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        p = ev.pos()
        self.handler.press(p.x(), p.y())
        self.handler.release()


class PaneTitle(pg.LabelItem):
    """A pane's title that never widens its column: a title longer than the pane is cut at its edge."""

    def __init__(self, text: str, **opts) -> None:
        super().__init__(text, **opts)
        self.setFlag(self.GraphicsItemFlag.ItemClipsChildrenToShape, True)
        self.setToolTip(text)

    def updateMin(self) -> None:  # noqa: N802 - pyqtgraph naming
        height = self.itemRect().height()
        self.setMinimumWidth(0)
        self.setMinimumHeight(height)
        self._sizeHint = {Qt.SizeHint.MinimumSize: (0, height), Qt.SizeHint.PreferredSize: (0, height),
                          Qt.SizeHint.MaximumSize: (-1, -1), Qt.SizeHint.MinimumDescent: (0, 0)}
        self.updateGeometry()


class ImagePane(pg.ViewBox):
    """Image below, RGBA overlay above, in image pixel coordinates (y down, aspect locked)."""

    hovered = Signal(object)  # (x, y) floats in image pixels, or None when the cursor leaves

    def __init__(self, title: str = "") -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self.title = title
        self.image_item = PaintableImageItem()
        self.overlay_item = PaintableImageItem()
        self.overlay_item.setZValue(10)
        self.addItem(self.image_item)
        self.addItem(self.overlay_item)
        self.cursor = pg.ScatterPlotItem(size=14, symbol="+", pen=pg.mkPen("w", width=2), brush=None)
        self.cursor.setZValue(20)
        self.cursor.setVisible(False)
        self.addItem(self.cursor)
        self.image_shape: tuple[int, int] | None = None

    def set_image(self, rgb: np.ndarray | None, fit: bool = False) -> None:
        if rgb is None:
            self.image_item.clear()
            self.image_shape = None
            return
        new_shape = rgb.shape[:2]
        self.image_item.setImage(rgb, levels=(0, 255), autoLevels=False)
        if fit or new_shape != self.image_shape:
            self.image_shape = new_shape
            self.fit()

    def set_overlay(self, rgba: np.ndarray | None) -> None:
        if rgba is None:
            self.overlay_item.clear()
        else:
            self.overlay_item.setImage(rgba, levels=(0, 255), autoLevels=False)

    def fit(self) -> None:
        if self.image_shape:
            h, w = self.image_shape
            self.setRange(xRange=(0, w), yRange=(0, h), padding=0.02)

    def one_to_one(self) -> None:
        """One image pixel per screen pixel, centred where the view is now."""
        c = self.viewRect().center()
        w, h = self.boundingRect().width() or 1, self.boundingRect().height() or 1
        self.setRange(xRange=(c.x() - w / 2, c.x() + w / 2), yRange=(c.y() - h / 2, c.y() + h / 2), padding=0)

    def show_cursor(self, pos: tuple[float, float] | None) -> None:
        if pos is None:
            self.cursor.setVisible(False)
        else:
            self.cursor.setData([pos[0]], [pos[1]])
            self.cursor.setVisible(True)

    def scene_to_image(self, scene_pos: QPointF) -> tuple[float, float] | None:
        if not self.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.mapSceneToView(scene_pos)
        return (p.x(), p.y())


def pixel_at(pos: tuple[float, float] | None, shape: tuple[int, int] | None) -> tuple[int, int] | None:
    """The integer pixel (x, y) under an image-space position, or None outside the image."""
    if pos is None or shape is None:
        return None
    x, y = int(np.floor(pos[0])), int(np.floor(pos[1]))
    if 0 <= x < shape[1] and 0 <= y < shape[0]:
        return x, y
    return None


class PaneGrid(pg.GraphicsLayoutWidget):
    """Several linked panes with a shared hover position (the synced cursor)."""

    hovered = Signal(object)  # (x, y) image position or None

    def __init__(self, parent=None, link: bool = True) -> None:
        super().__init__(parent)
        self.setBackground("#202124")
        self.link = link
        self.panes: list[ImagePane] = []
        self.scene().sigMouseMoved.connect(self._mouse_moved)

    def add_pane(self, pane: ImagePane, row: int = 0, col: int = 0, title: str = "", size: str = "10pt") -> ImagePane:
        if title:
            self.addItem(PaneTitle(title, color="#e8eaed", size=size), row=2 * row, col=col)
            self.ci.layout.setRowMaximumHeight(2 * row, 22)
        self.addItem(pane, row=2 * row + 1, col=col)
        if self.panes and self.link:
            pane.setXLink(self.panes[0])
            pane.setYLink(self.panes[0])
        self.panes.append(pane)
        return pane

    def equal_columns(self, columns: int) -> None:
        """Give the first ``columns`` columns the same width (linked panes then show the same range)."""
        layout = self.ci.layout
        for c in range(columns):
            layout.setColumnStretchFactor(c, 1)
            layout.setColumnPreferredWidth(c, 10)
            layout.setColumnMinimumWidth(c, 10)

    def fit_all(self) -> None:
        for pane in self.panes[: 1 if self.link else None]:
            pane.fit()

    def one_to_one_all(self) -> None:
        for pane in self.panes[: 1 if self.link else None]:
            pane.one_to_one()

    def _mouse_moved(self, scene_pos: QPointF) -> None:
        pos = None
        for pane in self.panes:
            pos = pane.scene_to_image(scene_pos)
            if pos is not None:
                break
        for pane in self.panes:
            pane.show_cursor(pos if len(self.panes) > 1 else None)
        self.hovered.emit(pos)

    def leaveEvent(self, event) -> None:  # noqa: N802 - Qt naming
        for pane in self.panes:
            pane.show_cursor(None)
        self.hovered.emit(None)
        super().leaveEvent(event)
