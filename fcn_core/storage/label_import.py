"""Importing other tools' annotations into an image folder's workspace, as if corrected there: all or nothing.

The labels are written into a hidden folder beside the workspace and land only when every file read, every
image matched and every class resolved (:mod:`.staging`): a bad file, an unknown class, a missing image, a
cancel or a full disk leaves the workspace exactly as it was. Existing corrections are replaced only when
asked (``overwrite``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..labels.document import LabelDocument
from ..memory import ensure_fits
from ..model.palette import VOID, full_palette
from .annotation_readers import Annotation, read_annotations
from .class_names_in import ClassResolver, read_mapping
from .image_io import displayed_size, is_image_path
from .staging import TargetTaken, staged_folder
from .workspace import Workspace

_SHOWN = 5  # image names listed in a message before "…"


class ImportCancelled(Exception):
    """The import was cancelled; the workspace is as it was."""


@dataclass(frozen=True)
class ImportSummary:
    """What landed: the images given labels (by file name), those whose earlier corrections were replaced."""

    imported: tuple[str, ...]
    replaced: tuple[str, ...]
    verified: bool
    workspace: Path


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return f"{shown}, … ({len(names)} in all)" if len(names) > _SHOWN else shown


class _ImageIndex:
    """The images of a folder, found by the name an annotation gives (exactly, else by stem when unique)."""

    def __init__(self, folder: Path):
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder of images")
        self.by_name = {p.name: p for p in folder.iterdir() if p.is_file() and is_image_path(p)}
        if not self.by_name:
            raise ValueError(f"{folder} holds no images")
        self.by_stem: dict[str, list[Path]] = {}
        for p in self.by_name.values():
            self.by_stem.setdefault(p.stem, []).append(p)

    def find(self, name: str) -> Path | None:
        if name in self.by_name:
            return self.by_name[name]
        for stem in dict.fromkeys((name, Path(name).stem)):  # "001" (VOC ids, masks) or "001.jpg" for "001.png"
            found = self.by_stem.get(stem, [])
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise ValueError(f"{name} could be any of {', '.join(sorted(p.name for p in found))}; "
                                 "rename the annotation after the one it belongs to")
        return None


def _check(cancel: Callable[[], bool] | None) -> None:
    if cancel is not None and cancel():
        raise ImportCancelled("the import was cancelled; nothing was imported")


def _labels_only_free(label_files: list[str]) -> Callable[[Path], None]:
    """At the landing: corrections saved meanwhile (another import, another window) are not overwritten."""
    def check(root: Path) -> None:
        taken = [n for n in label_files if (root / n).exists()]
        if taken:
            raise TargetTaken(f"{len(taken)} of these images received corrections while the import ran "
                              f"({_listed(taken)}); nothing was imported")
    return check


def import_labels(kind: str, path: str | Path, images: str | Path, classes: tuple[str, ...], colors,
                  mapping: str | Path | None = None, verified: bool = False, overwrite: bool = False,
                  workspace: Workspace | None = None, progress: Callable[[int, int], None] | None = None,
                  cancel: Callable[[], bool] | None = None) -> ImportSummary:
    """Import ``kind`` annotations (``labelme``, ``coco``, ``voc`` or ``masks``) from ``path`` as corrections of
    the images in ``images`` (their workspace beside them, or ``workspace``), in the model's ``classes``.

    Class names are matched by name (``mapping``: a JSON file saying where other names go); pixels are
    unverified unless ``verified``. Raises ValueError (one sentence) for anything wrong, :class:`ImportCancelled`
    when ``cancel()`` turns true, OSError for a write failure; in every such case nothing changed.
    """
    folder = Path(images)
    index = _ImageIndex(folder)
    ws = workspace or Workspace.beside(folder)
    resolver = ClassResolver(tuple(classes), read_mapping(mapping) if mapping else None)
    source = read_annotations(kind, Path(path), resolver, colors)
    palette = full_palette(np.asarray(colors, np.uint8))
    entries: list[str] = []  # filled as files are staged; read when the stage lands
    label_files: list[str] = []
    missing: list[str] = []
    existing: list[str] = []
    done: dict[Path, str] = {}
    _check(cancel)
    try:
        with staged_folder(ws.root, entries, None if overwrite else _labels_only_free(label_files)) as stage:
            staged = Workspace(stage)
            for i, one in enumerate(source.items):
                if progress:
                    progress(i, source.total)
                _check(cancel)
                image = index.find(one.image_name)
                if image is None:
                    missing.append(one.image_name)
                    continue
                _stage_one(staged, ws, image, one, done, existing, overwrite, verified, palette, classes)
                entries.extend(p.name for p in (ws.label_path(image), ws.verified_path(image), ws.state_path(image)))
                label_files.append(ws.label_path(image).name)
            resolver.check()
            if missing:
                raise ValueError(f"{len(missing)} annotated image{'s are' if len(missing) > 1 else ' is'} not in "
                                 f"{folder}: {_listed(missing)}; nothing was imported")
            if existing and not overwrite:
                raise ValueError(f"{len(existing)} image{'s' if len(existing) > 1 else ''} already "
                                 f"{'have' if len(existing) > 1 else 'has'} corrections ({_listed(existing)}); "
                                 "nothing was imported — replace them on purpose (--overwrite)")
            if not done:
                raise ValueError(f"nothing to import: {path} holds no annotations")
            _check(cancel)  # the last moment: after this the labels land
    except OSError as e:
        raise OSError(e.errno, f"{e.strerror or e}; nothing was imported, {ws.root} is as it was") from e
    if progress:
        progress(source.total, source.total)
    replaced = tuple(sorted(p.name for p in done if p.name in existing))
    return ImportSummary(tuple(sorted(p.name for p in done)), replaced if overwrite else (), verified, ws.root)


def _stage_one(staged: Workspace, ws: Workspace, image: Path, one: Annotation, done: dict[Path, str],
               existing: list[str], overwrite: bool, verified: bool, palette: np.ndarray,
               classes: tuple[str, ...]) -> None:
    """Check one annotation against its image and write it into the stage."""
    if image in done:
        raise ValueError(f"{image.name} is annotated twice ({done[image]} and {one.where}); "
                         "nothing was imported")
    h, w = displayed_size(image)
    if one.shape != (h, w):
        lh, lw = one.shape
        raise ValueError(f"{one.where} is {lw}×{lh}, but {image.name} is {w}×{h}; nothing was imported")
    done[image] = one.where
    if ws.has(image):
        existing.append(image.name)
    ensure_fits(h * w * 4, f"importing the labels of {image.name} ({w}×{h})")  # labels, a mask, the PNG
    labels = one.draw()
    doc = LabelDocument(labels, labels != VOID if verified else None, n_class=256)
    doc.revision = ws.saved_revision(image) + 1 if ws.has(image) else 0  # an open editor sees newer labels
    staged.save(image, doc, palette, tuple(classes))
