"""Colouring label maps for display: palette, hidden classes, opacity and outlines (numpy only)."""

from __future__ import annotations

import cv2
import numpy as np

from fcn_core import VOID


def label_lut(palette: np.ndarray, hidden: set[int], opacity: float) -> np.ndarray:
    """256×4 uint8 RGBA lookup table: class colours at ``opacity``, hidden classes and void transparent."""
    lut = np.zeros((256, 4), np.uint8)
    n = min(len(palette), 255)
    lut[:n, :3] = palette[:n]
    lut[:n, 3] = int(round(255 * max(0.0, min(1.0, opacity))))
    for c in hidden:
        if 0 <= c < 256:
            lut[c, 3] = 0
    lut[VOID, :3] = (224, 224, 192)
    lut[VOID, 3] = 0 if VOID in hidden else lut[0, 3] if n else 0
    return lut


def outline_mask(labels: np.ndarray) -> np.ndarray:
    """Pixels whose 4-neighbourhood holds another label (the class boundaries)."""
    edge = np.zeros(labels.shape, bool)
    edge[:-1] |= labels[:-1] != labels[1:]
    edge[1:] |= labels[1:] != labels[:-1]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    return edge


def outline_index(labels: np.ndarray) -> np.ndarray:
    """An index image of the class boundaries: each boundary pixel's own label, VOID everywhere else."""
    return np.where(outline_mask(labels), labels, VOID).astype(np.uint8)


def refresh_outline_index(index: np.ndarray, labels: np.ndarray,
                          rect: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Bring ``index`` (:func:`outline_index` of ``labels``) up to date after ``labels`` changed inside
    ``rect`` (x0, y0, x1, y1), touching only that rectangle grown by one pixel; return the rectangle rewritten."""
    h, w = labels.shape
    x0, y0, x1, y1 = rect
    gx0, gy0, gx1, gy1 = max(x0 - 1, 0), max(y0 - 1, 0), min(x1 + 1, w), min(y1 + 1, h)  # may change
    cx0, cy0, cx1, cy1 = max(x0 - 2, 0), max(y0 - 2, 0), min(x1 + 2, w), min(y1 + 2, h)  # and their neighbours
    if gx0 >= gx1 or gy0 >= gy1:
        return gx0, gy0, gx0, gy0
    fresh = outline_index(labels[cy0:cy1, cx0:cx1])
    index[gy0:gy1, gx0:gx1] = fresh[gy0 - cy0:gy1 - cy0, gx0 - cx0:gx1 - cx0]
    return gx0, gy0, gx1, gy1


def colorize(labels: np.ndarray, palette: np.ndarray, hidden: set[int] = frozenset(), opacity: float = 0.5,
             outline: bool = False) -> np.ndarray:
    """H×W×4 RGBA overlay of a label map (outline mode: boundaries opaque, interiors clear)."""
    lut = label_lut(palette, set(hidden), opacity)
    rgba = lut[labels]
    if outline:
        edge = outline_mask(labels)
        edge = cv2.dilate(edge.astype(np.uint8), np.ones((2, 2), np.uint8)).astype(bool)
        alpha = np.where(edge & (lut[labels, 3] > 0), 255, 0).astype(np.uint8)
        rgba[..., 3] = alpha
    return rgba


def disagreement(labels: list[np.ndarray]) -> np.ndarray:
    """Per pixel, how many distinct answers the variants give (1 = all agree)."""
    stack = np.stack(labels)
    distinct = np.ones(stack.shape[1:], np.uint8)
    for i in range(1, len(labels)):
        new = np.all(stack[i] != stack[:i], axis=0)
        distinct += new.astype(np.uint8)
    return distinct


def agreement_table(labels: dict[str, np.ndarray]) -> list[tuple[str, str, float]]:
    """Share of pixels on which each pair of variants agrees."""
    names = list(labels)
    return [(a, b, float((labels[a] == labels[b]).mean())) for i, a in enumerate(names) for b in names[i + 1:]]
