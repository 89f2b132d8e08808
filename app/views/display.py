"""How predictions are drawn: display settings and the indexed overlay (index image + RGBA LUT)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg

from fcn_core import VOID, Prediction

from .overlay import label_lut, outline_index

MODES = ("labels", "confidence", "entropy")
UNSURE_COLORMAP = pg.colormap.get("magma")
# what the colour scale beside the image measures, per overlay mode (class labels have the legend instead)
SCALE_LABELS = {"confidence": "unsure: 1 − softmax margin", "entropy": "entropy / ln(classes)"}


@dataclass(frozen=True)
class DisplaySettings:
    """What the overlay shows and how."""

    opacity: float = 0.55
    outline: bool = False
    hidden: frozenset[int] = field(default_factory=frozenset)
    mode: str = "labels"  # labels | confidence | entropy


def _unsure_lut(opacity: float) -> np.ndarray:
    """Magma colours: dark = sure, bright = unsure; alpha grows with unsureness."""
    lut = UNSURE_COLORMAP.getLookupTable(0.0, 1.0, 256, alpha=True).astype(np.float64)
    lut[:, 3] = np.linspace(0.15, 1.0, 256) * 255 * opacity
    return lut.astype(np.uint8)


def label_overlay_lut(palette: np.ndarray, s: DisplaySettings) -> np.ndarray:
    """The 256×4 LUT a label map is drawn through: class colours at the set opacity, opaque for outlines."""
    lut = label_lut(palette, set(s.hidden), s.opacity)
    if s.outline:
        lut[:, 3] = np.where(lut[:, 3] > 0, 255, 0)
        lut[VOID, 3] = 0
    return lut


def label_overlay(labels: np.ndarray, palette: np.ndarray, s: DisplaySettings) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 index image, 256×4 LUT) of a label map: filled at the set opacity, or outlines only."""
    return (outline_index(labels) if s.outline else labels), label_overlay_lut(palette, s)


def overlay_for(pred: Prediction, palette: np.ndarray, s: DisplaySettings, n_class: int) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 index image, 256×4 LUT) for an ImageItem."""
    if s.mode == "labels":
        return label_overlay(pred.labels, palette, s)
    if s.mode == "confidence":
        unsure = 1.0 - pred.confidence
    else:
        unsure = pred.entropy / max(np.log(max(n_class, 2)), 1e-6)
    return np.clip(unsure * 255, 0, 255).astype(np.uint8), _unsure_lut(s.opacity)
