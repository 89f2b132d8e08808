"""The masks the correction tools paint: brush dabs, flood fill, polygons, GrabCut refinement (numpy/OpenCV)."""

from __future__ import annotations

import cv2
import numpy as np


def disc_mask(shape: tuple[int, int], x: float, y: float, radius: float) -> tuple[np.ndarray, tuple[int, int]]:
    """A round brush dab: the boolean mask of its bounding box and the box's top-left (x0, y0), clipped."""
    h, w = shape
    r = max(0.5, float(radius))
    x0, y0 = max(0, int(np.floor(x - r))), max(0, int(np.floor(y - r)))
    x1, y1 = min(w, int(np.ceil(x + r)) + 1), min(h, int(np.ceil(y + r)) + 1)
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 0), bool), (x0, y0)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    return (xx + 0.5 - x) ** 2 + (yy + 0.5 - y) ** 2 <= r * r, (x0, y0)


def segment_indices(shape: tuple[int, int], p0: tuple[float, float], p1: tuple[float, float], radius: float) -> np.ndarray:
    """Flat indices covered by a brush dragged from p0 to p1 (dabs every half radius)."""
    n = max(1, int(np.ceil(np.hypot(p1[0] - p0[0], p1[1] - p0[1]) / max(0.5, radius / 2))))
    parts = []
    for t in np.linspace(0, 1, n + 1):
        mask, (x0, y0) = disc_mask(shape, p0[0] + t * (p1[0] - p0[0]), p0[1] + t * (p1[1] - p0[1]), radius)
        ys, xs = np.nonzero(mask)
        parts.append((ys + y0) * shape[1] + xs + x0)
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)


def restrict(index: np.ndarray, labels: np.ndarray, only_class: int | None) -> np.ndarray:
    """"Preserve other labels": keep only the pixels currently of ``only_class`` (all when None)."""
    if only_class is None:
        return index
    return index[labels.reshape(-1)[index] == only_class]


def flood_fill_mask(labels: np.ndarray, x: int, y: int) -> np.ndarray:
    """The 4-connected region of equal label containing (x, y)."""
    h, w = labels.shape
    mask = np.zeros((h + 2, w + 2), np.uint8)
    cv2.floodFill(labels.copy(), mask, (int(x), int(y)), 0, 0, 0, 4 | cv2.FLOODFILL_MASK_ONLY | (1 << 8))
    return mask[1:-1, 1:-1].astype(bool)


def polygon_mask(shape: tuple[int, int], points: list[tuple[float, float]]) -> np.ndarray:
    """The pixels inside a polygon or lasso (image coordinates)."""
    mask = np.zeros(shape, np.uint8)
    if len(points) >= 3:
        pts = np.round(np.asarray(points, np.float64) * 16).astype(np.int32)
        cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def grabcut_refine(image: np.ndarray, region: np.ndarray, iterations: int = 4) -> np.ndarray:
    """Refine a rough region to the image's edges with GrabCut; returns the foreground mask.

    ``region`` is probable foreground (a person's rough stroke may overshoot), a band around it probable
    background, everything further away fixed background; only the region's distant core is fixed
    foreground.
    """
    region = region.astype(np.uint8)
    if region.sum() == 0:
        return region.astype(bool)
    # Only the band around the region can change, so GrabCut runs on a window around it: on a large photo
    # a small region costs milliseconds, not the whole image's seconds, and the background model is local.
    ys, xs = np.nonzero(region)
    pad = max(48, (ys.max() - ys.min() + xs.max() - xs.min()) // 4)
    y0, y1 = max(0, ys.min() - pad), min(region.shape[0], ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(region.shape[1], xs.max() + pad + 1)
    out = np.zeros(region.shape, bool)
    out[y0:y1, x0:x1] = _grabcut_bounded(np.ascontiguousarray(image[y0:y1, x0:x1]),
                                         np.ascontiguousarray(region[y0:y1, x0:x1]), iterations)
    return out


GRABCUT_MAX_PIXELS = 250_000  # GrabCut's time grows faster than its area: 0.25 MP ≈ 1 s on 2 cores, 1 MP ≈ 15 s


def _grabcut_bounded(image: np.ndarray, region: np.ndarray, iterations: int) -> np.ndarray:
    """GrabCut on a window, at a scale that keeps it within :data:`GRABCUT_MAX_PIXELS`: a region that covers
    most of a 24 MP photo is refined at reduced resolution in about a second, instead of freezing for minutes."""
    h, w = region.shape
    scale = min(1.0, (GRABCUT_MAX_PIXELS / (h * w)) ** 0.5)
    if scale == 1.0:
        return _grabcut_window(image, region, iterations)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small_image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small_region = (cv2.resize(region.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.5).astype(np.uint8)
    small = _grabcut_window(small_image, small_region, iterations)
    return cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5


def _grabcut_window(image: np.ndarray, region: np.ndarray, iterations: int) -> np.ndarray:
    k = np.ones((5, 5), np.uint8)
    depth = cv2.distanceTransform(region, cv2.DIST_L2, 5)
    inner = (depth > 0.6 * depth.max()).astype(np.uint8) if depth.max() > 6 else np.zeros_like(region)
    outer = cv2.dilate(region, k, iterations=4)
    mask = np.full(region.shape, cv2.GC_BGD, np.uint8)
    mask[outer > 0] = cv2.GC_PR_BGD
    mask[region > 0] = cv2.GC_PR_FGD
    mask[inner > 0] = cv2.GC_FGD
    if not (mask == cv2.GC_PR_BGD).any() or not ((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)).any():
        return region.astype(bool)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    try:
        cv2.grabCut(bgr, mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return region.astype(bool)
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
