"""The single view: the image with the current variant's overlay."""

from __future__ import annotations

import numpy as np

from .display import DisplaySettings, overlay_for
from .panes import ImagePane, PaneGrid


class SingleView(PaneGrid):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.pane = self.add_pane(ImagePane())
        self._image_id: int | None = None

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
        index, lut = overlay_for(pred, palette, settings, n_class)
        item = self.pane.overlay_item
        item.setLookupTable(lut, update=False)
        item.setImage(index, levels=(0, 255), autoLevels=False)
