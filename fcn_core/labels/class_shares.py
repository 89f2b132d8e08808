"""How much of a label map each class covers."""

from __future__ import annotations

import cv2
import numpy as np

_HIST_CHUNK = 1 << 22  # pixels per histogram call: float32 bin counts stay exact (< 2**24)


def class_fractions(labels: np.ndarray, n_class: int) -> np.ndarray:
    """Share of pixels per class (classes 0 … n_class-1) of a uint8 label map; void and other values count
    in the total only. OpenCV's histogram: several times faster than ``np.bincount`` on large maps."""
    flat = np.ascontiguousarray(labels, np.uint8).reshape(-1)
    counts = np.zeros(max(256, n_class), np.int64)
    for i in range(0, flat.size, _HIST_CHUNK):
        hist = cv2.calcHist([flat[i:i + _HIST_CHUNK].reshape(-1, 1)], [0], None, [256], [0, 256])
        counts[:256] += hist.ravel().astype(np.int64)
    return counts[:n_class] / max(1, flat.size)
