"""Generated scenes for the demo model: cluttered, textured, lit pictures whose labels are exact.

The classes are chosen so that stride matters: thin wires, rings and crosses (4–6 px across, far
below FCN-32s's stride, under FCN-8s's), small dots, spiky stars, next to large blobs. Every scene is
determined by (seed, index) alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..model.palette import VOID

SCENE_CLASSES: tuple[str, ...] = ("background", "blob", "wire", "ring", "star", "dot", "cross")
SCENE_COLORS: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0), (230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (213, 94, 0), (204, 121, 167),
)
# Mean surface colour of each class (RGB); each object draws its own colour around it.
_BASE_COLOR = {
    1: (180, 90, 60), 2: (40, 40, 50), 3: (60, 150, 200), 4: (220, 200, 60), 5: (200, 50, 140), 6: (230, 230, 230),
}
# Stroke width of wires, rings and crosses, in px: [low, high). Thin next to every stride of the net, yet
# not thinner than FCN-8s can draw: its answer is 7 class scores at stride 8 upsampled by one learned 16×16
# kernel, which cannot draw a band much narrower than 4 px.
THIN_STROKE = (4, 7)
VOID_BAND = 1  # px of void (255) around every object, outside it, as VOC marks object boundaries


@dataclass(frozen=True)
class Scene:
    """An RGB uint8 picture and its label map (class indices, 255 on object boundaries)."""

    image: np.ndarray
    labels: np.ndarray


def _smooth_noise(rng: np.random.Generator, h: int, w: int, scale: int) -> np.ndarray:
    small = rng.standard_normal((max(2, h // scale + 2), max(2, w // scale + 2))).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Textured, cluttered ground: mixed low-frequency colour fields, grain and muted clutter."""
    palette = rng.uniform(40, 200, size=(3, 3))
    weights = np.stack([_smooth_noise(rng, h, w, int(rng.integers(16, 64))) for _ in range(3)], -1)
    weights = np.exp(2 * weights)
    weights /= weights.sum(-1, keepdims=True)
    img = weights @ palette
    img += 12 * _smooth_noise(rng, h, w, 3)[..., None]
    for _ in range(int(rng.integers(3, 9))):  # blurred clutter rectangles and strokes in muted colours
        color = tuple(float(c) for c in rng.uniform(50, 190, 3))
        layer = np.zeros((h, w), np.float32)
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.6:
            cv2.rectangle(layer, (x0, y0), (x0 + int(rng.integers(8, 60)), y0 + int(rng.integers(8, 60))), 1.0, -1)
        else:
            cv2.line(layer, (x0, y0), (int(rng.integers(0, w)), int(rng.integers(0, h))), 1.0, int(rng.integers(5, 12)))
        layer = cv2.GaussianBlur(layer, (0, 0), float(rng.uniform(2, 5)))[..., None] * 0.6
        img = img * (1 - layer) + np.array(color) * layer
    return img


def _shape_mask(rng: np.random.Generator, cls: int, h: int, w: int) -> np.ndarray:
    """A binary mask of one object of class ``cls`` at a random place and size."""
    m = np.zeros((h, w), np.uint8)
    cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
    s = min(h, w)
    if cls == 1:  # blob: large, smooth, irregular
        r = rng.uniform(0.12, 0.3) * s
        angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        radii = r * (1 + 0.25 * _smooth_noise(rng, 1, 24, 6)[0])
        pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1).astype(np.int32)
        cv2.fillPoly(m, [pts], 1)
    elif cls == 2:  # wire: thin curved polyline
        n = int(rng.integers(3, 7))
        pts = np.cumsum(rng.normal(0, 0.18 * s, (n, 2)), 0) + (cx, cy)
        cv2.polylines(m, [pts.astype(np.int32)], False, 1, int(rng.integers(*THIN_STROKE)))
    elif cls == 3:  # ring: thin annulus
        r = int(rng.uniform(0.06, 0.16) * s)
        cv2.ellipse(m, (cx, cy), (r, int(r * rng.uniform(0.6, 1.0))), float(rng.uniform(0, 180)), 0, 360, 1,
                    int(rng.integers(*THIN_STROKE)))
    elif cls == 4:  # star: concave, fine-edged spikes
        k = int(rng.integers(5, 8))
        r_out, r_in = rng.uniform(0.09, 0.17) * s, rng.uniform(0.035, 0.06) * s
        a = np.linspace(0, 2 * np.pi, 2 * k, endpoint=False) + rng.uniform(0, np.pi)
        radii = np.where(np.arange(2 * k) % 2 == 0, r_out, r_in)
        pts = np.stack([cx + radii * np.cos(a), cy + radii * np.sin(a)], 1).astype(np.int32)
        cv2.fillPoly(m, [pts], 1)
    elif cls == 5:  # dot: small disc
        cv2.circle(m, (cx, cy), int(rng.integers(4, 8)), 1, -1)
    elif cls == 6:  # cross: thin plus sign
        arm = int(rng.uniform(0.06, 0.13) * s)
        t = int(rng.integers(*THIN_STROKE))
        ang = rng.uniform(0, np.pi)
        for d in (ang, ang + np.pi / 2):
            dx, dy = arm * np.cos(d), arm * np.sin(d)
            cv2.line(m, (int(cx - dx), int(cy - dy)), (int(cx + dx), int(cy + dy)), 1, t)
    return m.astype(bool)


def _object_color(rng: np.random.Generator, cls: int) -> np.ndarray:
    base = np.array(_BASE_COLOR[cls], dtype=np.float64)
    return np.clip(base + rng.normal(0, 28, 3), 0, 255)


def make_scene(seed: int, index: int, size: tuple[int, int] = (160, 160)) -> Scene:
    """Scene number ``index`` of the series ``seed``: the same pair always gives the same scene."""
    rng = np.random.default_rng([int(seed), int(index)])
    h, w = size
    img = _background(rng, h, w)
    labels = np.zeros((h, w), np.uint8)
    band = np.zeros((h, w), bool)
    n_obj = int(rng.integers(3, 9))
    classes = rng.integers(1, len(SCENE_CLASSES), n_obj)
    kernel = np.ones((2 * VOID_BAND + 1, 2 * VOID_BAND + 1), np.uint8)
    for cls in classes:
        mask = _shape_mask(rng, int(cls), h, w)
        if not mask.any():
            continue
        color = _object_color(rng, int(cls))
        texture = 1 + 0.12 * _smooth_noise(rng, h, w, int(rng.integers(3, 10)))[..., None]
        soft = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.6)[..., None]
        img = img * (1 - soft) + color * texture * soft
        labels[mask] = cls
        band &= ~mask
        band |= cv2.dilate(mask.astype(np.uint8), kernel).astype(bool) & ~mask
    # lighting gradient, blur and sensor noise
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(direction) * gx / w + np.sin(direction) * gy / h)
    img = img * (1 + rng.uniform(0.1, 0.35) * (ramp - ramp.mean()))[..., None] * rng.uniform(0.8, 1.15)
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), float(rng.uniform(0.3, 0.9)))
    img = img + rng.normal(0, rng.uniform(2, 8), img.shape)
    labels[band] = VOID
    return Scene(np.clip(img, 0, 255).astype(np.uint8), labels)
