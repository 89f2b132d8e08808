"""Exporting corrected labels as a VOC-layout fine-tuning dataset (and reading exports back)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from PIL import Image

from .atomic import atomic_write_bytes, atomic_write_via
from .engine import Engine
from .image_io import is_image_path, read_image, read_label_png, write_label_png
from .palette import VOID, full_palette
from .voc_dataset import VOCLayout
from .workspace import WORKSPACE_DIR, Workspace

VERIFIED_DIR = "SegmentationVerified"


@dataclass(frozen=True)
class ExportSummary:
    written: int
    from_corrections: int
    predicted: int
    train: list[str]
    val: list[str]


def find_source(source: str | Path) -> tuple[Path, Workspace]:
    """An image folder (its workspace beside it) or a workspace (its images in the parent folder)."""
    source = Path(source)
    if not source.is_dir():
        raise ValueError(f"{source} is not a folder")
    if source.name == WORKSPACE_DIR:
        return source.parent, Workspace(source)
    return source, Workspace.beside(source)


def _check_target(out: Path, overwrite: bool) -> None:
    layout = VOCLayout(out)
    if not overwrite and (layout.images.exists() or layout.labels.exists()):
        raise ValueError(f"{out} already holds a dataset; choose an empty folder (or overwrite on purpose)")


def export_dataset(source: str | Path, out: str | Path, classes: tuple[str, ...], colors, val_fraction: float = 0.2,
                   seed: int = 0, engine: Engine | None = None, only_verified: bool = False, overwrite: bool = False,
                   progress: Callable[[int, int], None] | None = None, workspace: Workspace | None = None) -> ExportSummary:
    """Write JPEGImages, SegmentationClass, SegmentationVerified, ImageSets/Segmentation/{train,val,trainval}.

    Images without corrections are skipped, or labelled with ``engine``'s finest variant when given
    (``--predict-missing``). With ``only_verified`` unverified pixels become void (255).
    """
    folder, ws = find_source(source)
    ws = workspace or ws
    out = Path(out)
    _check_target(out, overwrite)
    if not 0 <= val_fraction < 1:
        raise ValueError("the validation fraction must be in [0, 1)")
    images = sorted(p for p in folder.iterdir() if p.is_file() and is_image_path(p))
    layout = VOCLayout(out)
    layout.make_dirs()
    (out / VERIFIED_DIR).mkdir(exist_ok=True)
    layout.write_classes(classes, colors)
    palette = full_palette(np.asarray(colors, np.uint8))
    ids, corrected, predicted = [], 0, 0
    for i, path in enumerate(images):
        if progress:
            progress(i, len(images))
        image = read_image(path)
        saved = ws.load(path, image.shape[:2], len(classes))
        if saved is not None:
            labels, verified = saved
            corrected += 1
        elif engine is not None:
            labels, verified = engine.segment(image).labels, np.zeros(image.shape[:2], bool)
            predicted += 1
        else:
            continue
        if only_verified:
            labels = np.where(verified, labels, VOID).astype(np.uint8)
        item = path.stem if path.stem not in ids else f"{path.stem}_{i}"
        ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:
            raise OSError(f"could not encode {path.name} as JPEG")
        atomic_write_bytes(layout.images / f"{item}.jpg", jpg.tobytes())
        write_label_png(layout.labels / f"{item}.png", labels, palette)
        vimg = Image.fromarray((verified * 255).astype(np.uint8), mode="L")
        atomic_write_via(out / VERIFIED_DIR / f"{item}.png", lambda tmp, v=vimg: v.save(tmp, format="PNG"))
        ids.append(item)
    if not ids:
        raise ValueError(f"nothing to export: no image in {folder} has corrections (use --predict-missing)")
    order = np.random.default_rng(seed).permutation(len(ids))
    n_val = int(round(val_fraction * len(ids))) if len(ids) > 1 else 0
    val = sorted(ids[j] for j in order[:n_val])
    train = sorted(ids[j] for j in order[n_val:])
    layout.write_split("train", train)
    layout.write_split("val", val)
    layout.write_split("trainval", sorted(ids))
    if progress:
        progress(len(images), len(images))
    return ExportSummary(len(ids), corrected, predicted, train, val)


def import_export(root: str | Path, item: str) -> tuple[np.ndarray, np.ndarray]:
    """(labels, verified) of one exported item."""
    root = Path(root)
    labels = read_label_png(VOCLayout(root).labels / f"{item}.png")
    verified = read_label_png(root / VERIFIED_DIR / f"{item}.png") > 0
    return labels, verified
