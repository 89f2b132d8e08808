"""The labels being corrected: open an image's document, save it within half a second of each change,
keep and retry what a failed save could not write. The document's own history is the one undo history."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from fcn_core import LabelDocument, Workspace

from .workspace_place import default_workspace

AUTOSAVE_MS = 400
RETRY_MS = 5000  # after a failed save
# closed documents kept with their undo history, so that going back to an image (or a fine-tuned model with
# the same classes) can still undo its strokes: the most recent ones, within a memory budget
RECENT_DOCUMENTS = 8
RECENT_BYTES = 512 * 2**20


@dataclass
class _Closed:
    """A saved document left with its history, and what reopening it must match."""

    doc: LabelDocument
    classes: tuple[str, ...]
    from_prediction: bool

    @property
    def nbytes(self) -> int:
        d = self.doc
        return d.labels.nbytes + d.verified.nbytes + sum(a.nbytes for a in (*d.undo_stack, *d.redo_stack))


@dataclass
class _Unsaved:
    """A document whose save failed when the session moved on: kept, and retried, until it lands."""

    doc: LabelDocument
    workspace: Workspace
    palette: np.ndarray
    classes: tuple[str, ...]


class LabelSession(QObject):
    """Owns the label document of the image being corrected and writes it to its workspace."""

    changed = Signal(object)    # dirty rect (x0, y0, x1, y1)
    saved = Signal(object)      # Path of the image whose labels were written (or removed: every stroke undone)
    saveFailed = Signal(str)
    historyChanged = Signal()   # undo/redo availability or names may have changed
    opened = Signal(object)     # Path, or None when closed

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc: LabelDocument | None = None
        self.image: np.ndarray | None = None
        self.path: Path | None = None
        self.predictions: dict = {}
        self.palette = np.zeros((1, 3), np.uint8)
        self.classes: tuple[str, ...] = ()
        self.mapped_from: tuple[str, ...] | None = None  # the saved labels' classes, when mapped by name
        self._saved_revision = 0
        self.workspace_root: Path | None = None  # None: the workspace beside each image's folder
        self.unsaved = False
        self._kept: dict[Path, _Unsaved] = {}  # images left with edits a failed save could not write
        # recently closed documents with their undo history, taken back when the same image reopens under the
        # same classes and what is on disk is still exactly what they hold
        self._recent: OrderedDict[Path, _Closed] = OrderedDict()
        # the document began as the model's prediction (nothing saved): with every stroke undone it is no
        # correction, and its saved files are removed rather than kept as a "0 % verified" correction
        self._from_prediction = False
        self._failing = False  # a save failed and none has succeeded since: tell once, retry quietly
        self.last_failure = ""
        self.save_timer = QTimer(self)
        self.save_timer.setSingleShot(True)
        self.save_timer.setInterval(AUTOSAVE_MS)
        self.save_timer.timeout.connect(self.save)

    def workspace(self, path: Path) -> Workspace:
        """Where ``path``'s corrections go: the chosen folder, else beside the images (or the user's data
        folder when the image folder cannot take them: see :mod:`.workspace_place`)."""
        if self.workspace_root:
            return Workspace(self.workspace_root)
        return default_workspace(Path(path).parent)[0]

    def open(self, path: Path, image: np.ndarray, predictions: dict, classes: tuple[str, ...], palette: np.ndarray,
             start_variant: str) -> None:
        """Edit ``path``: its unsaved edits if a failed save kept them, else its saved labels from the
        workspace (mapped to ``classes`` by name), else the prediction as a starting point. Raises ValueError
        (nothing changed) for saved labels that do not fit."""
        path = Path(path)
        self.close()  # saved (or kept) first, so reopening the same image reads what was just written
        held = self._recent.pop(path, None)
        kept = self._kept.get(path)
        mapped_from, from_prediction = None, False
        if kept is not None:
            if kept.doc.shape != image.shape[:2] or kept.classes != tuple(classes):
                raise ValueError(f"The edits of {path.name} made with the previous model are not saved yet; "
                                 "free space or fix permissions, then open it again.")
            doc, saved_revision = self._kept.pop(path).doc, -1  # still to be written
        else:
            ws = self.workspace(path)
            other = ws.other_source(path) if self.workspace_root is not None else None
            if other is not None:
                raise ValueError(f"The workspace {ws.root} already holds the labels of {other}, another image named "
                                 f"{path.name}; choose another workspace folder for {path.parent}.")
            saved = ws.load_labels(path, image.shape[:2], tuple(classes))  # may raise: the session stays closed
            if saved is None:
                doc = LabelDocument(predictions[start_variant].labels, None, n_class=len(classes))
                from_prediction = True
            elif held is not None and self._still_on_disk(held, saved, tuple(classes)):
                doc = held.doc  # what is on disk, with the strokes that made it still undoable
                from_prediction = held.from_prediction
            else:
                doc = LabelDocument(saved.labels, saved.verified, n_class=len(classes))
                doc.revision = saved.revision
                mapped_from = saved.classes_saved if saved.mapped else None
            saved_revision = doc.revision
        self.path, self.image, self.predictions = path, image, predictions
        self.classes, self.palette = tuple(classes), palette
        self.doc = doc
        self._from_prediction = from_prediction
        self.mapped_from = mapped_from
        doc.subscribe(self._doc_changed)
        self._saved_revision = saved_revision
        self.unsaved = saved_revision != doc.revision
        if self.unsaved:
            self.save_timer.start(AUTOSAVE_MS)
        self.opened.emit(path)
        self.historyChanged.emit()
        self.changed.emit((0, 0, image.shape[1], image.shape[0]))

    @staticmethod
    def _still_on_disk(held: _Closed, saved, classes: tuple[str, ...]) -> bool:
        """Whether the saved labels are exactly the closed document (not changed since by an import, another
        workspace or a fine-tune's different classes)."""
        doc = held.doc
        return (held.classes == classes and not saved.mapped and saved.revision == doc.revision
                and saved.labels.shape == doc.shape and np.array_equal(saved.labels, doc.labels)
                and np.array_equal(saved.verified, doc.verified))

    def _remember(self, path: Path, closed: _Closed) -> None:
        self._recent[path] = closed
        self._recent.move_to_end(path)
        while self._recent and (len(self._recent) > RECENT_DOCUMENTS
                                or sum(c.nbytes for c in self._recent.values()) > RECENT_BYTES):
            self._recent.popitem(last=False)

    def close(self) -> None:
        """Leave the current image: its edits are saved, or kept in memory (and retried) when the save fails.
        The saved document is remembered with its undo history for when the image is opened again."""
        doc, path = self.doc, self.path
        if doc is not None:
            doc.end_stroke()
        if not self.save() and doc is not None and path is not None and doc.revision != self._saved_revision:
            self._kept[path] = _Unsaved(doc, self.workspace(path), self.palette, self.classes)
            self.save_timer.start(RETRY_MS)
        if doc is not None:
            doc.unsubscribe(self._doc_changed)
        if doc is not None and path is not None and path not in self._kept:
            self._remember(path, _Closed(doc, self.classes, self._from_prediction))
        was_open = self.doc is not None
        self.doc = None
        self.path = None
        self.mapped_from = None
        self.unsaved = False
        if was_open:
            self.opened.emit(None)
            self.historyChanged.emit()

    @property
    def has_unsaved(self) -> bool:
        """Edits not yet on disk: the current image's, or those of images a failed save kept."""
        return self.unsaved or bool(self._kept)

    def set_workspace_root(self, folder: Path | None) -> None:
        """Save corrections in ``folder`` from now on (None: beside each image); edits a failed save kept,
        and the current image's unsaved ones, go there."""
        self.workspace_root = folder
        self._recent.clear()  # other files: nothing remembered describes them
        for path, kept in self._kept.items():
            kept.workspace = self.workspace(path)
        if self.unsaved:
            self.save()

    def _doc_changed(self, rect) -> None:
        self.changed.emit(rect)
        self.unsaved = True
        if not self._failing:  # while saves fail, the retry timer runs on its own
            self.save_timer.start(AUTOSAVE_MS)

    # the one undo history: the document's ------------------------------------------------------
    def undo(self) -> None:
        if self.doc is not None and self.doc.undo():
            self.historyChanged.emit()

    def redo(self) -> None:
        if self.doc is not None and self.doc.redo():
            self.historyChanged.emit()

    def undo_name(self) -> str | None:
        """The name of the stroke Undo would take back (None: nothing to undo)."""
        return self.doc.undo_stack[-1].name if self.doc is not None and self.doc.undo_stack else None

    def redo_name(self) -> str | None:
        return self.doc.redo_stack[-1].name if self.doc is not None and self.doc.redo_stack else None

    # saving --------------------------------------------------------------------------------------
    def save(self) -> bool:
        """Write the edits to the workspace now (atomic files): the current image's and any a failed save
        kept. On failure keep them in memory, say so (once, until a save succeeds) and retry."""
        self.save_timer.stop()
        ok = True
        for path, kept in list(self._kept.items()):
            if self._write(path, kept.workspace, kept.doc, kept.palette, kept.classes):
                del self._kept[path]
            else:
                ok = False
        doc, path = self.doc, self.path
        if doc is not None and path is not None and doc.revision != self._saved_revision:
            if doc.in_stroke:
                self.save_timer.start(AUTOSAVE_MS)
                return False
            revision = doc.revision
            undone = self._from_prediction and doc.as_made  # every stroke taken back: no correction
            written = self._write(path, self.workspace(path), None if undone else doc, self.palette, self.classes)
            if written:
                self._saved_revision = revision
                self.unsaved = False
            else:
                ok = False
        if not ok:
            self.save_timer.start(RETRY_MS)
        return ok

    def _write(self, path: Path, workspace: Workspace, doc: LabelDocument | None, palette: np.ndarray,
               classes: tuple[str, ...]) -> bool:
        """Save ``doc`` as ``path``'s labels (None: remove them); False, said once, when the disk refuses."""
        try:
            if doc is None:
                workspace.remove(path)
            else:
                workspace.save(path, doc, palette, classes)
        except OSError as e:
            if not self._failing:
                self._failing = True
                self.last_failure = (f"Could not {'save' if doc is not None else 'remove'} the labels of {path.name}: {e.strerror or e}. Your edits "
                                     "are kept in memory; free space or fix permissions and they will be saved.")
                self.saveFailed.emit(self.last_failure)
            return False
        self._failing = False
        self.saved.emit(path)
        return True
