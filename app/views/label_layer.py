"""The label layer being edited: an indexed image over the label map itself, coloured by Qt through a table."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsObject

from .overlay import outline_index, refresh_outline_index


def lut_to_argb32(lut: np.ndarray) -> np.ndarray:
    """A 256×4 RGBA LUT as 256 premultiplied ARGB32 words (QImage's native pixel format)."""
    a = lut[:, 3].astype(np.uint32)
    r, g, b = ((lut[:, i].astype(np.uint32) * a + 127) // 255 for i in range(3))
    return (a << 24) | (r << 16) | (g << 8) | b


def lut_to_color_table(lut: np.ndarray) -> list[int]:
    """A 256×4 RGBA LUT as an Indexed8 colour table (non-premultiplied ARGB; Qt premultiplies as it draws)."""
    lut = np.asarray(lut, np.uint32)
    return ((lut[:, 3] << 24) | (lut[:, 0] << 16) | (lut[:, 1] << 8) | lut[:, 2]).tolist()


class LabelLayer(QGraphicsObject):
    """Draws a label map through a LUT. The QImage shares the label map's memory, so a stroke costs only a
    repaint of its rectangle (:meth:`refresh`) and a new LUT (opacity, hidden classes) only a new colour table.
    In outline mode it draws the class boundaries instead, and a stroke recomputes them only around itself."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: np.ndarray | None = None
        self.outline = False  # drawing the boundaries of ``labels`` rather than its regions
        self.argb = np.zeros(256, np.uint32)
        self._index = np.zeros((0, 0), np.uint8)  # the pixels the QImage reads: ``labels`` itself when it can be
        self.image = QImage()
        self.pixels_coloured = 0  # pixels the last refresh sent to be re-coloured on screen (for tests)

    @property
    def buffer(self) -> np.ndarray:
        """The premultiplied ARGB32 pixels on show (computed on demand, for inspection)."""
        return self.argb[self._index]

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt naming
        if self.labels is None:
            return QRectF()
        h, w = self.labels.shape
        return QRectF(0, 0, w, h)

    def set_labels(self, labels: np.ndarray | None, lut: np.ndarray, outline: bool = False) -> None:
        """Show ``labels`` (kept by reference: later edits to the array show after :meth:`refresh`), filled or,
        with ``outline``, only their class boundaries."""
        self.prepareGeometryChange()
        self.labels = labels
        self.outline = outline and labels is not None
        self.argb = lut_to_argb32(lut)
        if labels is None:
            self._index = np.zeros((0, 0), np.uint8)
            self.image = QImage()
        else:
            self._index = outline_index(labels) if self.outline else np.ascontiguousarray(labels, np.uint8)
            h, w = labels.shape
            self.image = QImage(self._index.data, w, h, w, QImage.Format.Format_Indexed8)
            self.image.setColorTable(lut_to_color_table(lut))
            self.pixels_coloured = labels.size
        self.update()

    def set_lut(self, lut: np.ndarray) -> None:
        if self.labels is not None:
            self.argb = lut_to_argb32(lut)
            self.image.setColorTable(lut_to_color_table(lut))
            self.update()

    def refresh(self, rect: tuple[int, int, int, int]) -> None:
        """The label map changed inside the rectangle (x0, y0, x1, y1): repaint only it."""
        if self.labels is None:
            return
        x0, y0, x1, y1 = rect
        if self.outline:  # boundaries may move up to a pixel outside the edit
            x0, y0, x1, y1 = refresh_outline_index(self._index, self.labels, rect)
        elif self._index is not self.labels:  # a copy (the labels were not contiguous uint8): bring it up to date
            self._index[y0:y1, x0:x1] = self.labels[y0:y1, x0:x1]
        self.pixels_coloured = (x1 - x0) * (y1 - y0)
        self.update(QRectF(x0, y0, x1 - x0, y1 - y0))

    def paint(self, painter: QPainter, option, widget=None) -> None:  # noqa: ARG002
        if self.image.isNull():
            return
        exposed = option.exposedRect.intersected(self.boundingRect()) if option is not None else self.boundingRect()
        if exposed.isEmpty():
            exposed = self.boundingRect()
        src = exposed.toAlignedRect()
        painter.drawImage(QRectF(src), self.image, src)
