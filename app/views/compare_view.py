"""The compare view: every variant side by side (linked zoom/pan, synced cursor) and where they disagree."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .display import DisplaySettings, overlay_for
from .overlay import agreement_table, disagreement
from .panes import ImagePane, PaneGrid

# 1 = all agree (clear), 2 = two answers (amber), 3 = three answers (red)
DISAGREE_LUT = np.zeros((256, 4), np.uint8)
DISAGREE_LUT[2] = (255, 176, 0, 220)
DISAGREE_LUT[3] = (230, 30, 60, 240)


class CompareView(QWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.grid = PaneGrid(self)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.grid, 1)
        self.variants: tuple[str, ...] = ()
        self.panes: dict[str, ImagePane] = {}
        self.agreement: list[tuple[str, str, float]] = []

    def set_variants(self, variants: tuple[str, ...]) -> None:
        self.grid.clear()
        self.grid.panes = []
        self.panes = {}
        self.variants = variants
        names = [*variants, "disagreement"] if len(variants) > 1 else list(variants)
        for i, name in enumerate(names):
            title = f"FCN-{name}" if name != "disagreement" else "disagreement"  # what it shows: in the summary
            self.panes[name] = self.grid.add_pane(ImagePane(name), i // 2, i % 2, title)
        self.grid.equal_columns(min(2, len(names)))

    def show_waiting(self, sentence: str) -> None:
        """No answers yet, and why (the image is being segmented, or its segmenting was stopped)."""
        for pane in self.panes.values():
            pane.set_image(None)
            pane.set_overlay(None)
        self.summary.setText(sentence)

    def show_result(self, result, palette: np.ndarray, settings: DisplaySettings, n_class: int) -> None:
        if result is None:
            self.show_waiting(self._single_note())
            return
        for v in self.variants:
            pane = self.panes[v]
            pane.set_image(result.image)
            index, lut = overlay_for(result.predictions[v], palette, settings, n_class)
            pane.overlay_item.setLookupTable(lut, update=False)
            pane.overlay_item.setImage(index, levels=(0, 255), autoLevels=False)
        if "disagreement" in self.panes:
            labels = {v: result.predictions[v].labels for v in self.variants}
            gray = result.image.mean(axis=2, keepdims=True).astype(np.uint8).repeat(3, axis=2)
            pane = self.panes["disagreement"]
            pane.set_image(gray)
            pane.overlay_item.setLookupTable(DISAGREE_LUT, update=False)
            pane.overlay_item.setImage(disagreement(list(labels.values())), levels=(0, 255), autoLevels=False)
            self.agreement = agreement_table(labels)
            self.summary.setText("Agreement: " + "   ".join(f"{a}\u00a0vs\u00a0{b}:\u00a0{100 * f:.2f}\u00a0%" for a, b, f in self.agreement)
                                 + "\nDisagreement map: amber where two answers differ, red where all three do")
        else:
            self.summary.setText(self._single_note())

    def _single_note(self) -> str:
        if len(self.variants) != 1:
            return ""
        return (f"This model has one head (FCN-{self.variants[0]}), so there is nothing to compare it with. "
                "Load a bundle of 32s, 16s and 8s weights (Model → Load weights…, select up to three files) "
                "to see the heads side by side.")
