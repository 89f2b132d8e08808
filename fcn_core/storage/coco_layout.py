"""The COCO instances format: label maps as annotations (one per connected region and class) and back.

Segmentations are COCO's compressed RLE (exact; pycocotools encodes and decodes them) or, on request,
polygons traced around each region (what many tools want; holes and sub-pixel detail are lost, so they
are close to the pixels but not equal to them). Category ids are the model's class indices; class 0
("background" in the VOC convention) and void (255) get no annotations.
"""

from __future__ import annotations

import json
from typing import Sequence

import cv2
import numpy as np

from ..model.palette import VOID

COCO_ENTRIES = ("images", "annotations")  # what a COCO export owns in its folder
ANNOTATION_FILE = "annotations/instances_{split}.json"


def _rle(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")  # JSON wants text; pycocotools reads both
    return rle


def _polygons(mask: np.ndarray) -> list[list[float]]:
    """The outer boundary of each part of ``mask`` as [x1, y1, x2, y2, …] (pixel centres)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys = []
    for c in contours:
        pts = c.reshape(-1, 2).astype(float)
        if len(pts) < 3:  # a line or a dot: its pixels' outline instead
            x0, y0 = pts.min(0)
            x1, y1 = pts.max(0) + 1
            pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], float)
        polys.append([float(v) for v in pts.ravel()])
    return polys


def coco_annotations(labels: np.ndarray, image_id: int, next_id: int, n_class: int, polygons: bool = False,
                     background: int | None = 0) -> list[dict]:
    """One annotation per 8-connected region of each class of ``labels`` (ids from ``next_id``)."""
    from pycocotools import mask as mask_utils

    out = []
    for c in range(n_class):
        if c == background or c == VOID:
            continue
        n, regions = cv2.connectedComponents((labels == c).astype(np.uint8), connectivity=8)
        for k in range(1, n):
            mask = regions == k
            rle = _rle(mask)
            out.append({"id": next_id + len(out), "image_id": image_id, "category_id": c, "iscrowd": 0,
                        "area": float(mask_utils.area(rle)), "bbox": [float(v) for v in mask_utils.toBbox(rle)],
                        "segmentation": _polygons(mask) if polygons else rle})
    return out


def coco_document(images: Sequence[dict], annotations: Sequence[dict], classes: Sequence[str],
                  background: int | None = 0) -> bytes:
    """A COCO instances JSON file's bytes."""
    categories = [{"id": c, "name": name, "supercategory": "fcn"} for c, name in enumerate(classes) if c != background]
    doc = {"info": {"description": "FCN Workbench export", "version": "1.0"}, "licenses": [],
           "images": list(images), "annotations": list(annotations), "categories": categories}
    return json.dumps(doc).encode()
