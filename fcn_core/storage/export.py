"""Exporting corrected labels as a VOC-layout fine-tuning dataset (and reading exports back).

An export is written into a hidden folder beside the target and moved into place only once it is complete
(:mod:`fcn_core.storage.staging`): a full disk, a write error or a cancel leaves the target as it was, with no
partial or temporary files, and the same export can simply be run again.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
from PIL import Image

from ..model.palette import VOID, full_palette
from .atomic import atomic_write_bytes
from .image_io import (_exif_orientation, decode_image, file_bytes, is_image_path, read_label_png,
                       write_label_png, write_mask_png)
from .staging import TargetTaken, staged_folder
from .coco_layout import ANNOTATION_FILE, COCO_ENTRIES, coco_annotations, coco_document
from .labelme_format import LABELME_LABELS_FILE, labelme_entries, labelme_labels_txt, labelme_document, labelme_shapes
from .voc_layout import CLASSES_FILE, VOCLayout
from .workspace import WORKSPACE_DIR, Workspace

VERIFIED_DIR = "SegmentationVerified"
ENTRIES = ("JPEGImages", "SegmentationClass", VERIFIED_DIR, "ImageSets/Segmentation", CLASSES_FILE)  # what an export owns
DATASET_ENTRIES = tuple(dict.fromkeys(e.split("/")[0] for e in ENTRIES))  # the names an export puts in its folder
# what an export of each format owns (labelme's: its items' files and labels.txt, known once listed)
FORMAT_ENTRIES = {"voc": ENTRIES, "coco": COCO_ENTRIES, "labelme": (LABELME_LABELS_FILE,)}
EXPORT_FORMATS = tuple(FORMAT_ENTRIES)
FORMAT_NAMES = {"voc": "VOC layout", "coco": "COCO", "labelme": "labelme files"}  # as messages name them


def export_said(summary: "ExportSummary", out: Path | str, dataset_format: str) -> str:
    """What an export wrote, in one line (the split only where the format has one)."""
    n = summary.written
    split = f": {len(summary.train)} train, {len(summary.val)} val" if dataset_format != "labelme" else ""
    return (f"exported {n} image{'s' if n != 1 else ''} ({summary.from_corrections} corrected, "
            f"{summary.predicted} predicted){split} → {out} as {FORMAT_NAMES[dataset_format]}")


def export_owns(name: str, dataset_format: str) -> bool:
    """Whether a file or folder called ``name`` at the top of a dataset folder is one an export of
    ``dataset_format`` writes (what it may replace; anything else there is someone else's)."""
    if dataset_format == "labelme":
        return name == LABELME_LABELS_FILE or name.endswith((".json", ".jpg"))
    return name in {e.split("/")[0] for e in FORMAT_ENTRIES[dataset_format]}


# Labels for an image that has no corrections (``--predict-missing``): H×W×3 uint8 RGB → H×W uint8 classes.
LabelFn = Callable[[np.ndarray], np.ndarray]


class ExportCancelled(Exception):
    """The export was cancelled; nothing was written to its target."""


@dataclass(frozen=True)
class ExportSummary:
    written: int
    from_corrections: int
    predicted: int
    train: list[str]
    val: list[str]
    sources: dict[str, str] = field(default_factory=dict)  # item id → the image file it came from


def find_source(source: str | Path) -> tuple[Path, Workspace]:
    """An image folder (its workspace beside it) or a workspace (its images in the parent folder)."""
    source = Path(source)
    if not source.is_dir():
        raise ValueError(f"{source} is not a folder")
    if source.name == WORKSPACE_DIR:
        return source.parent, Workspace(source)
    return source, Workspace.beside(source)


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and is_image_path(p))


def corrected_images(source: str | Path, workspace: Workspace | None = None) -> list[Path]:
    """The image files of ``source`` (as :func:`export_dataset` takes it) with saved corrections: what an
    export without predictions writes and what a fine-tune trains on."""
    folder, ws = find_source(source)
    ws = workspace or ws
    return [p for p in _image_files(folder) if ws.has(p)]


def _check_target(out: Path, overwrite: bool, entries: tuple[str, ...]) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file, not a folder")
    if not overwrite and any((out / e).exists() for e in entries):
        raise ValueError(f"{out} already holds a dataset; choose an empty folder, or replace it on purpose (--overwrite)")


def _no_dataset_arrived(entries: tuple[str, ...]) -> Callable[[Path], None]:
    """At the landing, under the folder's lock: another export may have written ``out`` since it was checked."""
    def check(out: Path) -> None:
        if any((out / e).exists() for e in entries):
            raise TargetTaken(f"{out} received a dataset from another export while this one was written; "
                              "nothing of this export was written there")
    return check


def export_dataset(source: str | Path, out: str | Path, classes: tuple[str, ...], colors, val_fraction: float = 0.2,
                   seed: int = 0, predict: LabelFn | None = None, only_verified: bool = False, overwrite: bool = False,
                   progress: Callable[[int, int], None] | None = None, workspace: Workspace | None = None,
                   cancel: Callable[[], bool] | None = None, dataset_format: str = "voc",
                   polygons: bool = False) -> ExportSummary:
    """Write JPEGImages, SegmentationClass, SegmentationVerified, ImageSets/Segmentation/{train,val,trainval}
    (``dataset_format="coco"``: ``images/`` and ``annotations/instances_{train,val}.json``, one annotation
    per connected region and class, RLE or, with ``polygons``, polygons; :mod:`.coco_layout`;
    ``"labelme"``: ``<item>.jpg`` beside ``<item>.json``, shapes labelme draws back to the same pixels).

    Images without corrections are skipped, or labelled by ``predict`` when given (``--predict-missing``). With ``only_verified`` unverified pixels become void (255). ``progress(i, n)``
    is called before each image; ``cancel()`` returning True (or ``progress`` raising) stops the export,
    and then, as after any error, ``out`` is left exactly as it was (:class:`ExportCancelled` for a cancel,
    :class:`OSError` with its errno for a full disk or a write error).
    """
    folder, ws = find_source(source)
    ws = workspace or ws
    if not str(out).strip():
        raise ValueError("the export needs a folder name")
    out = Path(out)
    if dataset_format not in FORMAT_ENTRIES:
        raise ValueError(f"unknown dataset format {dataset_format!r}; known: {', '.join(EXPORT_FORMATS)}")
    entries = FORMAT_ENTRIES[dataset_format]
    _check_target(out, overwrite, entries)
    if not 0 <= val_fraction < 1:
        raise ValueError("the validation fraction must be in [0, 1)")
    images = _image_files(folder)
    if not images:
        raise ValueError(f"nothing to export: {folder} holds no images")
    items = _items(images, ws, predict)
    if not items:
        raise ValueError(f"nothing to export: no image in {folder} has corrections (use --predict-missing)")
    if dataset_format == "labelme":  # a folder of image + JSON pairs: its entries are the items' files
        entries = labelme_entries([item for _, item in items])
        _check_target(out, overwrite, entries)
    try:
        with staged_folder(out, entries, None if overwrite else _no_dataset_arrived(entries)) as stage:
            labelled = _labelled(items, ws, classes, predict, only_verified, progress, cancel)
            if dataset_format == "coco":
                summary = _write_coco(stage, labelled, classes, val_fraction, seed, polygons)
            elif dataset_format == "labelme":
                summary = _write_labelme(stage, labelled, classes, val_fraction, seed)
            else:
                summary = _write(stage, labelled, classes, colors, val_fraction, seed)
            _check(cancel)  # the last moment: after this the dataset moves into place
    except OSError as e:
        raise OSError(e.errno, f"{e.strerror or e}; nothing was exported, {out} is as it was") from e
    return summary


def _check(cancel: Callable[[], bool] | None) -> None:
    if cancel is not None and cancel():
        raise ExportCancelled("the export was cancelled; nothing was written")


def _read_source(path: Path) -> tuple[bytes, np.ndarray]:
    """An image file's bytes and its pixels as :func:`~.image_io.read_image` gives them (one read)."""
    data = file_bytes(path)
    return data, decode_image(data, path.name)


def _jpeg_as_is(data: bytes, image: np.ndarray) -> bool:
    """Whether the source's own JPEG bytes show exactly the pixels the labels were drawn on.

    Only an RGB or grey JPEG without an EXIF rotation qualifies: with a rotation (2 to 8) the
    labels fit the displayed pixels, which dataset readers that ignore EXIF would not show, so such a file is
    re-encoded upright instead (lossy, but aligned); CMYK and other modes decode differently from tool to tool.
    """
    if data[:3] != b"\xff\xd8\xff" or _exif_orientation(data) in range(2, 9):
        return False
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.format == "JPEG" and im.mode in ("RGB", "L") and im.size == (image.shape[1], image.shape[0])
    except Exception:  # noqa: BLE001 - OpenCV read what Pillow cannot: re-encode it
        return False


@dataclass(frozen=True)
class LabelledImage:
    """One exported image: its item name, source file, JPEG bytes, labels and verified mask."""

    item: str
    source: Path
    jpeg: bytes
    labels: np.ndarray
    verified: np.ndarray
    predicted: bool


def _items(images: list[Path], ws: Workspace, predict: LabelFn | None) -> list[tuple[Path, str]]:
    """The images an export writes (those with corrections, or with ``predict`` all) and their item names
    (the file's stem; a second image of the same stem gets its position appended)."""
    seen: set[str] = set()
    out = []
    for i, path in enumerate(images):
        if predict is None and not ws.has(path):
            continue
        item = path.stem if path.stem not in seen else f"{path.stem}_{i}"
        seen.add(item)
        out.append((path, item))
    return out


def _labelled(items: list[tuple[Path, str]], ws: Workspace, classes: tuple[str, ...], predict: LabelFn | None,
              only_verified: bool, progress: Callable[[int, int], None] | None,
              cancel: Callable[[], bool] | None) -> Iterator[LabelledImage]:
    """Each item ready to write; progress and cancel checked before each."""
    for i, (path, item) in enumerate(items):
        if progress:
            progress(i, len(items))
        _check(cancel)
        data, image = _read_source(path)
        # by name: labels saved under another model's classes are renumbered, or refused (ClassMismatch)
        saved = ws.load_labels(path, image.shape[:2], tuple(classes))
        if saved is not None:
            labels, verified, predicted = saved.labels, saved.verified, False
        elif predict is not None:
            labels, verified, predicted = predict(image), np.zeros(image.shape[:2], bool), True
        else:
            continue  # its labels went between the listing and now
        if only_verified:
            labels = np.where(verified, labels, VOID).astype(np.uint8)
        if _jpeg_as_is(data, image):
            jpg = data  # a JPEG already: its bytes unchanged, not a second lossy generation
        else:
            ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
            if not ok:
                raise OSError(f"could not encode {path.name} as JPEG")
            jpg = encoded.tobytes()
        yield LabelledImage(item, path, jpg, labels, verified, predicted)
    if progress:
        progress(len(items), len(items))


def split_items(ids: list[str], val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, val) item lists: a seeded shuffle, ``val_fraction`` of them (rounded) for validation."""
    order = np.random.default_rng(seed).permutation(len(ids))
    n_val = int(round(val_fraction * len(ids))) if len(ids) > 1 else 0
    return sorted(ids[j] for j in order[n_val:]), sorted(ids[j] for j in order[:n_val])


def _write(root: Path, labelled: Iterator[LabelledImage], classes: tuple[str, ...], colors, val_fraction: float,
           seed: int) -> ExportSummary:
    """The whole VOC-layout dataset, written into ``root`` (the hidden staging folder)."""
    layout = VOCLayout(root)
    layout.make_dirs()
    (root / VERIFIED_DIR).mkdir()
    layout.write_classes(classes, colors)
    palette = full_palette(np.asarray(colors, np.uint8))
    ids, sources, corrected, predicted = [], {}, 0, 0
    for one in labelled:
        atomic_write_bytes(layout.images / f"{one.item}.jpg", one.jpeg)
        write_label_png(layout.labels / f"{one.item}.png", one.labels, palette)
        write_mask_png(root / VERIFIED_DIR / f"{one.item}.png", one.verified)
        ids.append(one.item)
        sources[one.item] = one.source.name
        predicted += one.predicted
        corrected += not one.predicted
    if not ids:
        raise ValueError("nothing to export: no image has corrections")
    train, val = split_items(ids, val_fraction, seed)
    layout.write_split("train", train)
    layout.write_split("val", val)
    layout.write_split("trainval", sorted(ids))
    return ExportSummary(len(ids), corrected, predicted, train, val, sources)


def _write_coco(root: Path, labelled: Iterator[LabelledImage], classes: tuple[str, ...], val_fraction: float,
                seed: int, polygons: bool) -> ExportSummary:
    """``images/<item>.jpg`` and ``annotations/instances_{train,val,trainval}.json`` in ``root``."""
    (root / "images").mkdir()
    (root / "annotations").mkdir()
    records: dict[str, tuple[dict, list[dict]]] = {}
    sources, corrected, predicted, next_id = {}, 0, 0, 1
    for image_id, one in enumerate(labelled, start=1):
        atomic_write_bytes(root / "images" / f"{one.item}.jpg", one.jpeg)
        h, w = one.labels.shape
        anns = coco_annotations(one.labels, image_id, next_id, len(classes), polygons)
        next_id += len(anns)
        records[one.item] = ({"id": image_id, "file_name": f"{one.item}.jpg", "height": h, "width": w}, anns)
        sources[one.item] = one.source.name
        predicted += one.predicted
        corrected += not one.predicted
    if not records:
        raise ValueError("nothing to export: no image has corrections")
    train, val = split_items(list(records), val_fraction, seed)
    for split, items in (("train", train), ("val", val), ("trainval", sorted(records))):
        doc = coco_document([records[i][0] for i in items], [a for i in items for a in records[i][1]], classes)
        atomic_write_bytes(root / ANNOTATION_FILE.format(split=split), doc)
    return ExportSummary(len(records), corrected, predicted, train, val, sources)


def _write_labelme(root: Path, labelled: Iterator[LabelledImage], classes: tuple[str, ...], val_fraction: float,
                   seed: int) -> ExportSummary:
    """``<item>.jpg`` and ``<item>.json`` side by side (the folder labelme opens), and ``labels.txt``."""
    sources, corrected, predicted = {}, 0, 0
    for one in labelled:
        atomic_write_bytes(root / f"{one.item}.jpg", one.jpeg)
        h, w = one.labels.shape
        atomic_write_bytes(root / f"{one.item}.json",
                           labelme_document(labelme_shapes(one.labels, classes), f"{one.item}.jpg", h, w))
        sources[one.item] = one.source.name
        predicted += one.predicted
        corrected += not one.predicted
    if not sources:
        raise ValueError("nothing to export: no image has corrections")
    atomic_write_bytes(root / LABELME_LABELS_FILE, labelme_labels_txt(classes))
    train, val = split_items(list(sources), val_fraction, seed)
    return ExportSummary(len(sources), corrected, predicted, train, val, sources)


def read_exported_item(root: str | Path, item: str) -> tuple[np.ndarray, np.ndarray]:
    """(labels, verified) of one exported item."""
    root = Path(root)
    labels = read_label_png(VOCLayout(root).labels / f"{item}.png")
    verified = read_label_png(root / VERIFIED_DIR / f"{item}.png") > 0
    return labels, verified
