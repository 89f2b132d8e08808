"""The label layer being edited: an ARGB image we own, repainted only where a stroke changed it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsObject


def lut_to_argb32(lut: np.ndarray) -> np.ndarray:
    """A 256×4 RGBA LUT as 256 premultiplied ARGB32 words (QImage's native pixel format)."""
    a = lut[:, 3].astype(np.uint32)
    r, g, b = ((lut[:, i].astype(np.uint32) * a + 127) // 255 for i in range(3))
    return (a << 24) | (r << 16) | (g << 8) | b


class LabelLayer(QGraphicsObject):
    """Draws a label map through a LUT; :meth:`refresh` re-colours only a rectangle of it."""

    def __init__(self) -> None:
        super().__init__()
        self.labels: np.ndarray | None = None
        self.argb = np.zeros(256, np.uint32)
        self.buffer = np.zeros((0, 0), np.uint32)
        self.image = QImage()
        self.pixels_coloured = 0  # how many pixels the last refresh re-coloured (for tests)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt naming
        if self.labels is None:
            return QRectF()
        h, w = self.labels.shape
        return QRectF(0, 0, w, h)

    def set_labels(self, labels: np.ndarray | None, lut: np.ndarray) -> None:
        """Show ``labels`` (kept by reference: later edits to the array show after :meth:`refresh`)."""
        self.prepareGeometryChange()
        self.labels = labels
        self.argb = lut_to_argb32(lut)
        if labels is None:
            self.buffer = np.zeros((0, 0), np.uint32)
            self.image = QImage()
        else:
            self.buffer = np.ascontiguousarray(self.argb[labels])
            h, w = labels.shape
            self.image = QImage(self.buffer.data, w, h, 4 * w, QImage.Format.Format_ARGB32_Premultiplied)
            self.pixels_coloured = labels.size
        self.update()

    def set_lut(self, lut: np.ndarray) -> None:
        if self.labels is not None:
            self.set_labels(self.labels, lut)

    def refresh(self, rect: tuple[int, int, int, int]) -> None:
        """Re-colour the rectangle (x0, y0, x1, y1) from the label map and repaint only it."""
        if self.labels is None:
            return
        x0, y0, x1, y1 = rect
        self.buffer[y0:y1, x0:x1] = self.argb[self.labels[y0:y1, x0:x1]]
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
