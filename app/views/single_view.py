"""The single view: the image with the current variant's overlay."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QPainterPath, QPolygonF
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsPathItem

from .display import SCALE_LABELS, UNSURE_COLORMAP, DisplaySettings, label_overlay_lut, overlay_for
from .label_layer import LabelLayer
from .panes import ImagePane, PaneGrid


class SingleView(PaneGrid):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.pane = self.add_pane(ImagePane())
        self._image_id: int | None = None
        self.brush = QGraphicsEllipseItem()
        self.brush.setPen(pg.mkPen("w", width=1.5, cosmetic=True))
        self.brush.setZValue(30)
        self.brush.setVisible(False)
        self.pane.addItem(self.brush)
        self.polygon = QGraphicsPathItem()  # the polygon tool's corners, placed but not filled yet
        self.polygon.setPen(pg.mkPen("w", width=1.5, cosmetic=True, style=Qt.PenStyle.DashLine))
        self.polygon.setZValue(31)
        self.pane.addItem(self.polygon)
        self.layer = LabelLayer()  # the labels being corrected, repainted by dirty rectangle
        self.layer.setZValue(15)
        self.layer.setFlag(self.layer.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.layer.setVisible(False)
        self.pane.addItem(self.layer)
        # confidence and entropy are drawn through a colour map: its scale stands beside the image
        self.scale = pg.ColorBarItem(values=(0, 1), colorMap=UNSURE_COLORMAP, interactive=False, width=18)
        self.scale_mode: str | None = None

    def show_scale(self, mode: str) -> None:
        """Show the colour scale of ``mode`` beside the image (none for class labels)."""
        wanted = SCALE_LABELS.get(mode)
        if wanted == self.scale_mode:
            return
        if self.scale_mode is not None:
            self.ci.removeItem(self.scale)
        self.scale_mode = wanted
        if wanted is not None:
            self.scale.getAxis("left").setLabel(wanted)
            self.addItem(self.scale, row=1, col=1)

    def show_result(self, result, variant: str, palette: np.ndarray, settings: DisplaySettings, n_class: int) -> None:
        if result is None:
            self.pane.set_image(None)
            self.pane.set_overlay(None)
            return
        if self._image_id != id(result.image):
            self._image_id = id(result.image)
            self.pane.set_image(result.image)
        self.set_overlay(result.predictions[variant], palette, settings, n_class)

    def set_overlay(self, pred, palette, settings: DisplaySettings, n_class: int) -> None:
        self.show_scale(settings.mode)
        self._show_indexed(*overlay_for(pred, palette, settings, n_class))

    def show_labels(self, labels: np.ndarray | None, palette: np.ndarray, settings: DisplaySettings) -> None:
        """Draw a label map being edited above the prediction (None: stop), filled or as outlines."""
        if labels is None:
            self.layer.set_labels(None, np.zeros((256, 4), np.uint8))
            self.layer.setVisible(False)
            self.pane.overlay_item.setVisible(True)
            return
        self.layer.set_labels(labels, label_overlay_lut(palette, settings), outline=settings.outline)
        self.layer.setVisible(True)
        self.pane.overlay_item.setVisible(False)

    def refresh_labels(self, rect, outline: bool, labels: np.ndarray, palette, settings: DisplaySettings) -> None:
        """After a stroke: re-colour only around its rectangle."""
        if self.layer.labels is not labels or self.layer.outline != outline:
            self.show_labels(labels, palette, settings)
        else:
            self.layer.refresh(rect)

    def show_brush(self, pos, radius: float | None) -> None:
        """The brush outline at the cursor (radius None hides it)."""
        if pos is None or radius is None:
            self.brush.setVisible(False)
            return
        self.brush.setRect(pos[0] - radius, pos[1] - radius, 2 * radius, 2 * radius)
        self.brush.setVisible(True)

    def show_polygon(self, points: list[tuple[float, float]]) -> None:
        """The polygon placed so far, closed back to its first corner (an empty list hides it)."""
        path = QPainterPath()
        if points:
            path.addPolygon(QPolygonF([QPointF(x, y) for x, y in [*points, points[0]]]))
        self.polygon.setPath(path)

    def _show_indexed(self, index: np.ndarray, lut: np.ndarray) -> None:
        item = self.pane.overlay_item
        item.setLookupTable(lut, update=False)
        item.setImage(index, levels=(0, 255), autoLevels=False)
