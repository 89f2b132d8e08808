"""labelme's JSON annotations: shapes rasterised exactly as labelme draws them, and label maps written back
as shapes labelme opens (polygons traced from contours; what polygons cannot give exactly, as mask shapes).

labelme (``labelme.utils.shape.shape_to_mask``) draws every shape with Pillow's ImageDraw at the points'
coordinates, later shapes over earlier ones; so does :func:`rasterise`, so a file gives here the pixels it
gives in labelme's own ``labelme_json_to_dataset`` and ``labelme2voc``. Their class conventions hold too:
``_background_`` is class 0 and ``__ignore__`` is void.
"""

from __future__ import annotations

import base64
import io
import json
import math
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
from PIL import Image, ImageDraw

from ..model.palette import VOID
from .json_input import parse_json

LABELME_BACKGROUND = "_background_"
LABELME_IGNORE = "__ignore__"
LABELME_VERSION = "5.5.0"  # the file format's version these files follow (labelme 5.5 and 6 read it)
LABELME_LABELS_FILE = "labels.txt"  # the class list labelme2voc.py takes (--labels)
LINE_WIDTH = 10  # labelme's defaults for shapes without area
POINT_SIZE = 5
# shape type → how many points it needs (None: at least 3 for a polygon, at least 2 for a line strip)
SHAPE_POINTS: dict[str, int | None] = {"polygon": None, "rectangle": 2, "circle": 2, "line": 2, "linestrip": None,
                                       "point": 1, "oriented_rectangle": 4, "mask": 2}


@dataclass(frozen=True)
class LabelmeShape:
    """One shape of a labelme file: its label, type, points, and for a mask shape its pixels."""

    label: str
    shape_type: str
    points: tuple[tuple[float, float], ...]
    mask: np.ndarray | None = None


@dataclass(frozen=True)
class LabelmeFile:
    """What a labelme JSON file says: the image it annotates, that image's size, and its shapes in order."""

    image_path: str
    height: int
    width: int
    shapes: tuple[LabelmeShape, ...]


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _mask_pixels(data: object, where: str) -> np.ndarray:
    if not isinstance(data, str):
        raise ValueError(f"{where}: a mask shape needs its mask as a base64 PNG")
    try:
        with Image.open(io.BytesIO(base64.b64decode(data, validate=False))) as im:
            return np.asarray(im).astype(bool) if im.mode in ("1", "L", "P") else np.asarray(im.convert("L")) > 0
    except Exception:  # noqa: BLE001 - any undecodable mask is the same failure for the person
        raise ValueError(f"{where}: its mask is not a base64 PNG") from None


def _shape(raw: object, where: str, width: int, height: int) -> LabelmeShape:
    if not isinstance(raw, dict):
        raise ValueError(f"{where} is not a shape (an object with label, points and shape_type)")
    label, points, kind = raw.get("label"), raw.get("points"), raw.get("shape_type") or "polygon"
    if not isinstance(label, str):
        raise ValueError(f"{where} has no label")
    if not isinstance(kind, str) or kind not in SHAPE_POINTS:
        raise ValueError(f"{where} ({label}) is a {kind!r} shape, which labelme does not draw "
                         f"(it draws: {', '.join(SHAPE_POINTS)})")
    if not (isinstance(points, list) and all(isinstance(p, list) and len(p) == 2 and all(map(_number, p))
                                             for p in points)):
        raise ValueError(f"{where} ({label}): its points are not a list of [x, y] numbers")
    need = SHAPE_POINTS[kind]
    least = need if need is not None else (3 if kind == "polygon" else 2)
    if len(points) < least or (need is not None and len(points) != need):
        raise ValueError(f"{where} ({label}): a {kind} needs {least}{'' if need else ' or more'} points, "
                         f"it has {len(points)}")
    outside = [p for p in points if not (0 <= p[0] <= width and 0 <= p[1] <= height)]
    if outside and kind != "circle":  # a circle's second point may lie outside: it gives the radius
        x, y = outside[0]
        raise ValueError(f"{where} ({label}) has a point at ({x:g}, {y:g}), outside the {width}×{height} image")
    mask = _mask_pixels(raw.get("mask"), f"{where} ({label})") if kind == "mask" else None
    return LabelmeShape(label, kind, tuple((float(x), float(y)) for x, y in points), mask)


def parse_labelme(data: bytes, where: str) -> LabelmeFile:
    """A labelme JSON file's contents, checked (one sentence naming ``where`` for anything wrong)."""
    doc = parse_json(data, where)
    if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
        raise ValueError(f"{where} is not a labelme file (it has no list of shapes)")
    image_path, height, width = doc.get("imagePath"), doc.get("imageHeight"), doc.get("imageWidth")
    if not isinstance(image_path, str) or not image_path.strip():
        raise ValueError(f"{where} does not name its image (imagePath)")
    if not (type(height) is int and type(width) is int and height > 0 and width > 0):
        raise ValueError(f"{where} does not give its image's size (imageHeight, imageWidth)")
    shapes = tuple(_shape(s, f"{where}, shape {i + 1}", width, height) for i, s in enumerate(doc["shapes"]))
    # labelme writes Windows paths with backslashes; only the file's name is used to find the image
    return LabelmeFile(image_path.replace("\\", "/"), height, width, shapes)


def shape_mask(shape: LabelmeShape, height: int, width: int) -> np.ndarray:
    """The pixels one shape covers, drawn as labelme's ``shape_to_mask`` draws them."""
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    xy = list(shape.points)
    kind = shape.shape_type
    if kind == "circle":
        (cx, cy), (px, py) = xy
        d = math.hypot(cx - px, cy - py)
        draw.ellipse(((cx - d, cy - d), (cx + d, cy + d)), outline=1, fill=1)
    elif kind == "rectangle":
        (x0, y0), (x1, y1) = xy
        draw.rectangle(((min(x0, x1), min(y0, y1)), (max(x0, x1), max(y0, y1))), outline=1, fill=1)
    elif kind in ("line", "linestrip"):
        draw.line(xy=xy, fill=1, width=LINE_WIDTH)
    elif kind == "point":
        (cx, cy), r = xy[0], POINT_SIZE
        draw.ellipse(((cx - r, cy - r), (cx + r, cy + r)), outline=1, fill=1)
    elif kind == "mask":
        out = np.zeros((height, width), bool)
        (x1, y1), (x2, y2) = (np.asarray(xy).astype(int)).tolist()
        part = shape.mask[: max(0, min(y2 + 1, height) - y1), : max(0, min(x2 + 1, width) - x1)]
        out[y1:y1 + part.shape[0], x1:x1 + part.shape[1]] = part
        return out
    else:  # polygon, oriented_rectangle
        draw.polygon(xy=xy, outline=1, fill=1)
    return np.asarray(canvas, dtype=bool)


def rasterise(file: LabelmeFile, class_of: Callable[[str], int]) -> np.ndarray:
    """The file's label map (H×W uint8): class 0 where no shape is, each shape's class over earlier ones."""
    labels = np.zeros((file.height, file.width), np.uint8)
    for shape in file.shapes:
        labels[shape_mask(shape, file.height, file.width)] = class_of(shape.label)
    return labels


# --- writing -------------------------------------------------------------------------------------------------

def _mask_b64(mask: np.ndarray) -> str:
    out = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255, mode="L").save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode("ascii")


def _shape_dict(label: str, kind: str, points: list[list[float]], mask: str | None = None) -> dict:
    return {"label": label, "points": points, "group_id": None, "description": "", "shape_type": kind,
            "flags": {}, "mask": mask}


def _regions(labels: np.ndarray) -> list[tuple[float, int, np.ndarray]]:
    """Every 8-connected region of every value: (outline's area, value, outline points), largest first."""
    out = []
    for value in np.unique(labels):
        # the outer contour of every 8-connected part, parts inside another's hole included (CCOMP puts them at
        # the top level with the others); the holes themselves are what other regions fill
        contours, tree = cv2.findContours((labels == value).astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        out += [(cv2.contourArea(c), int(value), c.reshape(-1, 2))
                for c, (_, _, _, parent) in zip(contours, tree[0] if tree is not None else []) if parent < 0]
    # a region inside another's hole has the smaller outline: drawn later, over it
    out.sort(key=lambda r: (-r[0], -len(r[2])))
    return out


def _polygon_shape(label: str, pts: np.ndarray) -> dict:
    if len(pts) >= 3:
        return _shape_dict(label, "polygon", [[float(x), float(y)] for x, y in pts])
    (x0, y0), (x1, y1) = pts.min(0), pts.max(0)  # a dot or a straight run of pixels: its pixels' rectangle
    return _shape_dict(label, "rectangle", [[float(x0), float(y0)], [float(x1), float(y1)]])


def labelme_shapes(labels: np.ndarray, classes: tuple[str, ...]) -> list[dict]:
    """Shapes that labelme rasterises back to exactly ``labels`` (class 0: no shape needed where nothing was
    drawn; void: ``__ignore__``). Each connected region is a polygon along its outline, larger outlines first,
    so that what lies in a region's hole is drawn over it; a region's pixels the polygons do not give back
    exactly (a one-pixel-wide diagonal, say) follow as one mask shape per class."""
    height, width = labels.shape
    name = {c: classes[c] for c in range(len(classes))}
    name[0] = LABELME_BACKGROUND  # labelme's own name for class 0 (its labelme2voc.py counts from it)
    name[VOID] = LABELME_IGNORE
    drawn = np.zeros(labels.shape, np.uint8)
    shapes = []
    for _, value, pts in _regions(labels):
        shape = _polygon_shape(name[value], pts)
        (x0, y0), (x1, y1) = pts.min(0), pts.max(0) + 1
        # drawn in its bounding box only (integer points: the same pixels as on the whole canvas, far cheaper)
        local = LabelmeShape(shape["label"], shape["shape_type"], tuple((x - x0, y - y0) for x, y in shape["points"]))
        covered = shape_mask(local, int(y1 - y0), int(x1 - x0))
        box = drawn[y0:y1, x0:x1]
        if value == 0 and not box[covered].any():
            continue  # background that no earlier shape covers needs no shape of its own
        shapes.append(shape)
        box[covered] = value
    for value in np.unique(labels[drawn != labels]):  # what polygons cannot give exactly: mask shapes
        wrong = (labels == value) & (drawn != labels)
        ys, xs = np.nonzero(wrong)
        y0, y1, x0, x1 = ys.min(), ys.max(), xs.min(), xs.max()
        # the mask shape covers its whole bounding box's True pixels only: the box is the exact bits
        shapes.append(_shape_dict(name[int(value)], "mask", [[float(x0), float(y0)], [float(x1), float(y1)]],
                                  _mask_b64(wrong[y0:y1 + 1, x0:x1 + 1])))
    return shapes


def labelme_document(shapes: list[dict], image_path: str, height: int, width: int) -> bytes:
    """A labelme JSON file's bytes (the image beside it, by name; no embedded image data)."""
    doc = {"version": LABELME_VERSION, "flags": {}, "shapes": shapes, "imagePath": image_path, "imageData": None,
           "imageHeight": int(height), "imageWidth": int(width)}
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")


def labelme_entries(items: list[str]) -> tuple[str, ...]:
    """What a labelme export of these items writes into its folder."""
    return (*(f"{i}{ext}" for i in items for ext in (".json", ".jpg")), LABELME_LABELS_FILE)


def labelme_labels_txt(classes: tuple[str, ...]) -> bytes:
    """labelme2voc.py's class list: ``__ignore__`` (void), ``_background_`` (class 0), then the others."""
    return "".join(f"{n}\n" for n in (LABELME_IGNORE, LABELME_BACKGROUND, *classes[1:])).encode("utf-8")
