"""The status bar's line for the pixel under the cursor: position, colour, class, score, confidence, label."""

from __future__ import annotations

import numpy as np

from fcn_core import VOID, LabelDocument, ModelMeta, Prediction


def pixel_readout(image: np.ndarray, pred: Prediction, meta: ModelMeta, x: int, y: int,
                  doc: LabelDocument | None = None, saved: np.ndarray | None = None) -> str:
    """One line describing pixel (x, y); ``doc`` adds the corrected label when editing, ``saved`` the saved
    correction shown outside edit mode."""
    cls = int(pred.labels[y, x])
    rgb = image[y, x]
    corrected = ""
    labels = doc.labels if doc is not None else saved
    if labels is not None:
        value = int(labels[y, x])
        name = "void" if value == VOID else meta.classes[value] if value < meta.n_class else str(value)
        verified = " (verified)" if doc is not None and doc.verified[y, x] else " (saved)" if doc is None else ""
        corrected = f"   label: {name}{verified}"
    confidence, entropy = pred.pixel_summary(y, x)
    return (f"x {x}  y {y}   RGB ({rgb[0]}, {rgb[1]}, {rgb[2]})   FCN-{pred.variant}: {meta.classes[cls]}   "
            f"score {pred.scores[cls, y, x]:.2f}   confidence {confidence:.2f}   entropy {entropy:.2f}{corrected}")
