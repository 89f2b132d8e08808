"""Reading other tools' annotations as label maps in the model's classes: labelme JSON, COCO instances, VOC
``SegmentationClass`` folders and plain mask PNGs.

Each reader yields one :class:`Annotation` per image, lazily (a dataset of thousands is never held at once),
with its pixels already in the model's class indices; unknown classes are collected by the
:class:`~.class_names_in.ClassResolver` for the import to name once everything is read.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image

from ..model.palette import VOC_CLASSES, VOID
from .class_names_in import ClassResolver, colour_key
from .image_io import ImageReadError, _check_size, _our_size_policy, check_png_chunks, file_bytes
from .json_input import parse_json
from .labelme_format import parse_labelme, rasterise
from .regular_files import read_regular
from .voc_layout import VOCLayout

MAX_LABELME_BYTES = 256 << 20  # a labelme file embeds its image (base64): big photos make big files
MAX_COCO_BYTES = 1 << 30  # COCO 2017's train annotations are 450 MB
IMPORT_KINDS = ("labelme", "coco", "voc", "masks")


@dataclass(frozen=True)
class Annotation:
    """One image's imported labels: the image's file name as the annotation names it, where it came from
    (for messages), the size it says the image has, and how to draw its H×W uint8 labels in the model's
    classes (255 void) — drawn only once the image is found with that size."""

    image_name: str
    where: str
    shape: tuple[int, int]
    draw: Callable[[], np.ndarray]

    @staticmethod
    def drawn(image_name: str, where: str, labels: np.ndarray) -> "Annotation":
        """An annotation whose labels are already decoded (mask PNGs)."""
        return Annotation(image_name, where, labels.shape, lambda: labels)


def _files(path: Path, suffixes: tuple[str, ...], what: str) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ValueError(f"{path} is neither a file nor a folder")
    found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if not found:
        raise ValueError(f"{path} holds no {what} ({' or '.join(suffixes)} files)")
    return found


# --- labelme --------------------------------------------------------------------------------------------------

def read_labelme(files: list[Path], resolver: ClassResolver) -> Iterator[Annotation]:
    """Each labelme JSON file rasterised as labelme draws it."""
    for f in files:
        parsed = parse_labelme(read_regular(f, MAX_LABELME_BYTES, "labelme file"), f.name)
        yield Annotation(Path(parsed.image_path).name, f.name, (parsed.height, parsed.width),
                         lambda parsed=parsed, f=f: rasterise(parsed, lambda name: resolver.index(name, f.name)))


# --- COCO -----------------------------------------------------------------------------------------------------

def rle_counts(counts: str, where: str) -> list[int]:
    """COCO's compressed RLE string as run lengths (the inverse of pycocotools' ``rleToString``), checked."""
    out: list[int] = []
    p, n = 0, len(counts)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            if p >= n:
                raise ValueError(f"{where}: its RLE string ends in the middle of a number")
            c = ord(counts[p]) - 48
            if not 0 <= c < 64:
                raise ValueError(f"{where}: its RLE string holds a character no RLE has ({counts[p]!r})")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p, k = p + 1, k + 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(out) > 2:
            x += out[-2]
        out.append(x)
    return out


def _runs_to_mask(counts: list[int], height: int, width: int, where: str) -> np.ndarray:
    arr = np.asarray(counts, np.int64)
    if (arr < 0).any() or int(arr.sum()) != height * width:
        raise ValueError(f"{where}: its RLE covers {int(arr.clip(0).sum()):,} pixels, the image has "
                         f"{height * width:,} ({width}×{height}): an RLE of the wrong size")
    values = np.arange(len(arr)) % 2
    flat = np.repeat(values.astype(bool), arr)
    return flat.reshape(width, height).T  # COCO runs go down the columns


def coco_mask(segmentation: object, height: int, width: int, where: str) -> np.ndarray:
    """One annotation's pixels: polygons through pycocotools, RLE (compressed or not) decoded and checked."""
    if isinstance(segmentation, list):
        polys = segmentation
        if not polys or not all(isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0
                                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)
                                for p in polys):
            raise ValueError(f"{where}: its polygons are not lists of x, y numbers (three points at least)")
        for p in polys:
            xs, ys = np.asarray(p[0::2], float), np.asarray(p[1::2], float)
            if not (np.isfinite(xs).all() and np.isfinite(ys).all()) or xs.min() < 0 or ys.min() < 0 \
                    or xs.max() > width or ys.max() > height:
                raise ValueError(f"{where}: a polygon reaches outside the {width}×{height} image")
        from pycocotools import mask as mask_utils

        rle = mask_utils.merge(mask_utils.frPyObjects(polys, height, width))
        return mask_utils.decode(rle).astype(bool)
    if isinstance(segmentation, dict):
        size, counts = segmentation.get("size"), segmentation.get("counts")
        if size != [height, width]:
            raise ValueError(f"{where}: its RLE is for a {size} image, the image is {[height, width]} "
                             "(height, width): an RLE of the wrong size")
        if isinstance(counts, str):
            return _runs_to_mask(rle_counts(counts, where), height, width, where)
        if isinstance(counts, list) and all(type(c) is int for c in counts):
            return _runs_to_mask(counts, height, width, where)
        raise ValueError(f"{where}: its RLE counts are neither a string nor a list of whole numbers")
    raise ValueError(f"{where}: its segmentation is neither polygons nor an RLE")


def _coco_tables(doc: object, where: str) -> tuple[list[dict], dict[int, str], dict[int, list[dict]]]:
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), list) for k in ("images", "annotations", "categories")):
        raise ValueError(f"{where} is not a COCO instances file (it needs lists of images, annotations and categories)")
    images = doc["images"]
    for im in images:
        if not (isinstance(im, dict) and type(im.get("id")) is int and isinstance(im.get("file_name"), str)
                and type(im.get("height")) is int and type(im.get("width")) is int
                and im["height"] > 0 and im["width"] > 0):
            raise ValueError(f"{where}: an image entry lacks its id, file_name, height or width ({str(im)[:80]})")
    categories = {}
    for c in doc["categories"]:
        if not (isinstance(c, dict) and type(c.get("id")) is int and isinstance(c.get("name"), str)):
            raise ValueError(f"{where}: a category lacks its id or name ({str(c)[:80]})")
        categories[c["id"]] = c["name"]
    ids = {im["id"] for im in images}
    by_image: dict[int, list[dict]] = {}
    for a in doc["annotations"]:
        if not (isinstance(a, dict) and type(a.get("image_id")) is int and type(a.get("category_id")) is int
                and a["image_id"] in ids and a["category_id"] in categories):
            raise ValueError(f"{where}: annotation {a.get('id') if isinstance(a, dict) else '?'} names an image "
                             "or a category the file does not list")
        by_image.setdefault(a["image_id"], []).append(a)
    return images, categories, by_image


def read_coco(path: Path) -> tuple[list[dict], dict[int, str], dict[int, list[dict]]]:
    """A COCO instances file's images, categories and annotations by image, checked."""
    if not path.is_file():
        raise ValueError(f"{path} is not a file: a COCO import reads one instances JSON file")
    return _coco_tables(parse_json(read_regular(path, MAX_COCO_BYTES, "COCO file"), path.name, MAX_COCO_BYTES),
                        path.name)


def coco_labels(path: Path, tables, resolver: ClassResolver) -> Iterator[Annotation]:
    """Each image of a COCO instances file: its annotations painted in the file's order (later over earlier),
    class 0 where none is."""
    images, categories, by_image = tables

    def draw(im: dict) -> np.ndarray:
        h, w = im["height"], im["width"]
        labels = np.zeros((h, w), np.uint8)
        for a in by_image.get(im["id"], []):
            where = f"{path.name}, annotation {a.get('id')}"
            mask = coco_mask(a.get("segmentation"), h, w, where)
            labels[mask] = resolver.index(categories[a["category_id"]], path.name)
        return labels

    for im in images:
        yield Annotation(Path(im["file_name"].replace("\\", "/")).name, path.name, (im["height"], im["width"]),
                         lambda im=im: draw(im))


# --- VOC and masks --------------------------------------------------------------------------------------------

def _png(path: Path) -> Image.Image:
    data = file_bytes(path, "mask PNG")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        check_png_chunks(data, path.name)
    try:
        with _our_size_policy():
            im = Image.open(io.BytesIO(data))
            _check_size(im.size, path.name)
            im.load()
        return im
    except ImageReadError:
        raise
    except Exception:  # noqa: BLE001
        raise ImageReadError(f"{path.name} is not a readable mask image") from None


def voc_files(path: Path) -> tuple[list[Path], tuple[str, ...]]:
    """A VOC folder's (or its ``SegmentationClass``'s) label PNGs and the classes their values index: its
    ``classes.json`` when it has one, else VOC's 21."""
    root = path.parent if path.name == "SegmentationClass" else path
    folder = VOCLayout(root).labels
    if not folder.is_dir():
        raise ValueError(f"{path} is not a VOC folder: it has no SegmentationClass folder")
    known = VOCLayout(root).read_classes()
    return _files(folder, (".png",), "label PNGs"), tuple(known[0] if known else VOC_CLASSES)


def read_voc(files: list[Path], names: tuple[str, ...], resolver: ClassResolver) -> Iterator[Annotation]:
    """VOC label PNGs: palette values index ``names``, 255 void."""
    for f in files:
        im = _png(f)
        if im.mode not in ("P", "L"):
            raise ValueError(f"{f.name} is a {im.mode} image, not a VOC label PNG (palette or grey values)")
        values = np.asarray(im)
        lut = resolver.lookup_table(names, f.name, np.unique(values))
        yield Annotation.drawn(f.stem, f.name, lut[values])


def read_masks(files: list[Path], resolver: ClassResolver, colors) -> Iterator[Annotation]:
    """Mask PNGs: grey or palette values are the model's class indices (or as the mapping says), colours are
    the model's class colours (or as the mapping's ``#rrggbb`` entries say)."""
    table = None
    for f in files:
        im = _png(f)
        if im.mode in ("P", "L"):
            values = np.asarray(im)
            lut = np.full(256, VOID, np.uint8)
            for v in np.unique(values).tolist():
                lut[v] = resolver.value(v, f.name)
            labels = lut[values]
        elif im.mode in ("RGB", "RGBA"):
            table = table if table is not None else resolver.colour_table(colors)
            rgb = np.asarray(im.convert("RGB"))
            packed = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
            found, inverse = np.unique(packed, return_inverse=True)
            out = np.empty(len(found), np.uint8)
            for j, p in enumerate(found.tolist()):
                rgb_key = (p >> 16, (p >> 8) & 255, p & 255)
                if rgb_key in table:
                    out[j] = table[rgb_key]
                else:
                    resolver.unknown.setdefault(f"colour {colour_key(rgb_key)}", f.name)
                    out[j] = VOID
            labels = out[inverse.reshape(packed.shape)]
        else:
            raise ValueError(f"{f.name} is a {im.mode} image; masks are grey, palette or RGB PNGs")
        yield Annotation.drawn(f.stem, f.name, labels)


@dataclass(frozen=True)
class AnnotationSource:
    """How many images a source annotates (for progress) and its annotations, read one at a time."""

    total: int
    items: Iterator[Annotation]


def read_annotations(kind: str, path: Path, resolver: ClassResolver, colors) -> AnnotationSource:
    """The annotations of ``path`` in format ``kind`` (one of :data:`IMPORT_KINDS`); what can be checked before
    reading them all (the path, a COCO file's structure) is checked now."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    if kind == "labelme":
        files = _files(path, (".json",), "labelme JSON")
        return AnnotationSource(len(files), read_labelme(files, resolver))
    if kind == "coco":
        tables = read_coco(path)
        return AnnotationSource(len(tables[0]), coco_labels(path, tables, resolver))
    if kind == "voc":
        files, names = voc_files(path)
        return AnnotationSource(len(files), read_voc(files, names, resolver))
    if kind == "masks":
        files = _files(path, (".png",), "mask PNGs")
        return AnnotationSource(len(files), read_masks(files, resolver, colors))
    raise ValueError(f"unknown annotation format {kind!r}; known: {', '.join(IMPORT_KINDS)}")
