"""Class colours: the PASCAL VOC colour map and its class names."""

from __future__ import annotations

import numpy as np

VOC_CLASSES: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)
VOID = 255


def voc_colormap(n: int = 256) -> np.ndarray:
    """The VOC colour map: n×3 uint8, class i coloured from the interleaved bits of i."""
    cmap = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap


def full_palette(colors: np.ndarray) -> np.ndarray:
    """A 256×3 palette whose first rows are ``colors`` and whose index 255 is VOC's void colour."""
    pal = voc_colormap(256)
    colors = np.asarray(colors, dtype=np.uint8).reshape(-1, 3)
    pal[: len(colors)] = colors[:255]
    pal[VOID] = voc_colormap(256)[VOID]
    return pal
