"""Colouring label maps for display: palette, hidden classes, opacity and outlines (numpy only)."""

from __future__ import annotations

import cv2
import numpy as np

VOID = 255
_HIST_CHUNK = 1 << 22  # pixels per histogram call: float32 bin counts stay exact (< 2**24)


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


def class_fractions(labels: np.ndarray, n_class: int) -> np.ndarray:
    """Share of pixels per class of a uint8 label map: ``Prediction.class_fractions``, exactly, several times faster."""
    flat = np.ascontiguousarray(labels, np.uint8).reshape(-1)
    counts = np.zeros(max(256, n_class), np.int64)
    for i in range(0, flat.size, _HIST_CHUNK):
        hist = cv2.calcHist([flat[i:i + _HIST_CHUNK].reshape(-1, 1)], [0], None, [256], [0, 256])
        counts[:256] += hist.ravel().astype(np.int64)
    return counts[:n_class] / max(1, flat.size)


def outline_mask(labels: np.ndarray) -> np.ndarray:
    """Pixels whose 4-neighbourhood holds another label (the class boundaries)."""
    edge = np.zeros(labels.shape, bool)
    edge[:-1] |= labels[:-1] != labels[1:]
    edge[1:] |= labels[1:] != labels[:-1]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    return edge


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
