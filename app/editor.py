"""Correcting labels: the tools, their mouse handling, undo (QUndoStack) and autosave to the workspace."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from fcn_core import LabelDocument, Workspace
from fcn_core.labels.paint_tools import flood_fill_mask, grabcut_refine, polygon_mask, restrict, segment_indices

TOOLS = ("brush", "eraser", "fill", "polygon", "eyedropper", "take_variant", "grabcut")
AUTOSAVE_MS = 400
RETRY_MS = 5000  # after a failed save


@dataclass
class ToolState:
    tool: str = "brush"
    cls: int = 1
    radius: float = 6.0
    erase_to_void: bool = False
    preserve: int | None = None  # paint only over this class ("preserve other labels")
    source_variant: str = "8s"   # what "take this variant here" copies


@dataclass
class _Unsaved:
    """A document whose save failed when the editor moved on: kept, and retried, until it lands."""

    doc: LabelDocument
    workspace: Workspace
    palette: np.ndarray
    classes: tuple[str, ...]


class _StrokeCommand(QUndoCommand):
    """One stroke on the undo stack; the document holds its pixels, this just replays them."""

    def __init__(self, doc: LabelDocument, name: str) -> None:
        super().__init__(name)
        self.doc = doc
        self._first = True

    def redo(self) -> None:
        if self._first:  # the stroke is already applied when it is pushed
            self._first = False
            return
        if not self.doc.redo():
            self.setObsolete(True)

    def undo(self) -> None:
        if not self.doc.undo():  # the document's bounded history already dropped this stroke
            self.setObsolete(True)


class Editor(QObject):
    """Owns the label document of the current image and applies the tools to it."""

    changed = Signal(object)  # dirty rect (x0, y0, x1, y1)
    saved = Signal(str)
    saveFailed = Signal(str)
    classPicked = Signal(int)
    polygonChanged = Signal(object)  # the corners placed so far, [(x, y), ...]

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = ToolState()
        self.undo_stack = QUndoStack(self)
        self.doc: LabelDocument | None = None
        self.image: np.ndarray | None = None
        self.path: Path | None = None
        self.predictions: dict = {}
        self.palette = np.zeros((1, 3), np.uint8)
        self.classes: tuple[str, ...] = ()
        self.polygon: list[tuple[float, float]] = []
        self._last: tuple[float, float] | None = None
        self._lasso: int | None = None  # points added by the current polygon drag
        self._saved_revision = 0
        self.workspace_root: Path | None = None  # None: the workspace beside each image's folder
        self.unsaved = False
        self._kept: dict[Path, _Unsaved] = {}  # images left with edits a failed save could not write
        self._failing = False  # a save failed and none has succeeded since: tell once, retry quietly
        self.last_failure = ""
        self.save_timer = QTimer(self)
        self.save_timer.setSingleShot(True)
        self.save_timer.setInterval(AUTOSAVE_MS)
        self.save_timer.timeout.connect(self.save)

    # documents ---------------------------------------------------------------------------------
    def workspace(self, path: Path) -> Workspace:
        return Workspace(self.workspace_root) if self.workspace_root else Workspace.beside(Path(path).parent)

    def open(self, path: Path, image: np.ndarray, predictions: dict, classes: tuple[str, ...], palette: np.ndarray,
             start_variant: str) -> None:
        """Edit ``path``: its unsaved edits if a failed save kept them, else its saved labels from the
        workspace, else the prediction as a starting point. Raises ValueError (nothing changed) for a
        saved label file that does not fit."""
        path = Path(path)
        self.close()  # saved (or kept) first, so reopening the same image reads what was just written
        kept = self._kept.get(path)
        if kept is not None:
            if kept.doc.shape != image.shape[:2] or kept.doc.n_class != len(classes):
                raise ValueError(f"The edits of {path.name} made with the previous model ({kept.doc.n_class} "
                                 "classes) are not saved yet; free space or fix permissions, then open it again.")
            doc, saved_revision = self._kept.pop(path).doc, -1  # still to be written
        else:
            ws = self.workspace(path)
            other = ws.other_source(path) if self.workspace_root is not None else None
            if other is not None:
                raise ValueError(f"The workspace {ws.root} already holds the labels of {other}, another image named "
                                 f"{path.name}; choose another workspace folder for {path.parent}.")
            saved = ws.load(path, image.shape[:2], len(classes))  # may raise: the editor stays closed
            labels, verified = saved if saved is not None else (predictions[start_variant].labels, None)
            doc = LabelDocument(labels, verified, n_class=len(classes))
            saved_revision = doc.revision
        self.path, self.image, self.predictions = path, image, predictions
        self.classes, self.palette = classes, palette
        self.doc = doc
        doc.subscribe(self._doc_changed)
        self._saved_revision = saved_revision
        self.unsaved = saved_revision != doc.revision
        if self.unsaved:
            self.save_timer.start(AUTOSAVE_MS)
        self.changed.emit((0, 0, image.shape[1], image.shape[0]))

    def close(self) -> None:
        """Leave the current image: a drag in progress ends as a stroke, and the edits are saved, or kept
        in memory (and retried) when the save fails."""
        self.release()
        self.polygon = []
        doc, path = self.doc, self.path
        if not self.save() and doc is not None and path is not None and doc.revision != self._saved_revision:
            self._kept[path] = _Unsaved(doc, self.workspace(path), self.palette, self.classes)
            self.save_timer.start(RETRY_MS)
        if doc is not None:
            doc.unsubscribe(self._doc_changed)
        self.doc = None
        self.path = None
        self.unsaved = False
        self.undo_stack.clear()

    @property
    def has_unsaved(self) -> bool:
        """Edits not yet on disk: the current image's, or those of images a failed save kept."""
        return self.unsaved or bool(self._kept)

    def set_workspace_root(self, folder: Path | None) -> None:
        """Save corrections in ``folder`` from now on (None: beside each image); edits a failed save kept,
        and the current image's unsaved ones, go there."""
        self.workspace_root = folder
        for path, kept in self._kept.items():
            kept.workspace = self.workspace(path)
        if self.unsaved:
            self.save()

    def _doc_changed(self, rect) -> None:
        self.changed.emit(rect)
        self.unsaved = True
        if not self._failing:  # while saves fail, the retry timer runs on its own
            self.save_timer.start(AUTOSAVE_MS)

    def undo(self) -> None:
        """Undo the last stroke (a drag in progress ends first, so it is the one undone)."""
        self._end_drag()
        self.undo_stack.undo()

    def redo(self) -> None:
        self._end_drag()
        self.undo_stack.redo()

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
            if self._write(path, self.workspace(path), doc, self.palette, self.classes):
                self._saved_revision = revision
                self.unsaved = False
            else:
                ok = False
        if not ok:
            self.save_timer.start(RETRY_MS)
        return ok

    def _write(self, path: Path, workspace: Workspace, doc: LabelDocument, palette: np.ndarray,
               classes: tuple[str, ...]) -> bool:
        try:
            workspace.save(path, doc, palette, classes)
        except OSError as e:
            if not self._failing:
                self._failing = True
                self.last_failure = (f"Could not save the labels of {path.name}: {e.strerror or e}. Your edits "
                                     "are kept in memory; free space or fix permissions and they will be saved.")
                self.saveFailed.emit(self.last_failure)
            return False
        self._failing = False
        self.saved.emit(path.name)
        return True

    # tools -------------------------------------------------------------------------------------
    def _value(self) -> int:
        if self.state.tool == "eraser":
            return 255 if self.state.erase_to_void else 0
        return self.state.cls

    def _apply(self, index: np.ndarray) -> None:
        doc = self.doc
        assert doc is not None
        index = restrict(index, doc.labels, self.state.preserve)
        if self.state.tool == "take_variant":
            pred = self.predictions[self.state.source_variant].labels.reshape(-1)
            doc.paint(index=index, value=pred[index])
        else:
            doc.paint(index=index, value=self._value())

    def _commit(self, name: str) -> None:
        doc = self.doc
        if doc is not None and doc.end_stroke() is not None:
            self.undo_stack.push(_StrokeCommand(doc, name))

    def press(self, x: float, y: float) -> None:
        """Mouse press at image (x, y)."""
        doc = self.doc
        if doc is None:
            return
        h, w = doc.shape
        tool = self.state.tool
        if tool in ("brush", "eraser", "take_variant"):
            doc.begin_stroke(tool)
            self._last = (x, y)
            self._apply(segment_indices(doc.shape, (x, y), (x, y), self.state.radius))
        elif not (0 <= x < w and 0 <= y < h):
            return
        elif tool == "fill":
            doc.begin_stroke("fill")
            self._apply(np.flatnonzero(flood_fill_mask(doc.labels, int(x), int(y))))
            self._commit("fill")
        elif tool == "eyedropper":
            value = int(doc.labels[int(y), int(x)])
            if value < len(self.classes):
                self.state.cls = value
                self.classPicked.emit(value)
        elif tool == "polygon":  # clicks add corners (Return fills); a drag draws a lasso, filled on release
            self.polygon.append((x, y))
            self._lasso = 0
            self.polygonChanged.emit(list(self.polygon))

    def move(self, x: float, y: float) -> None:
        if self.doc is not None and self.state.tool == "polygon" and self._lasso is not None:
            self.polygon.append((x, y))
            self._lasso += 1
            self.polygonChanged.emit(list(self.polygon))
            return
        if self.doc is None or self._last is None:
            return
        self._apply(segment_indices(self.doc.shape, self._last, (x, y), self.state.radius))
        self._last = (x, y)

    def release(self) -> None:
        lasso, self._lasso = self._lasso, None
        if lasso is not None and lasso > 2:
            self.finish_polygon()
        self._end_drag()

    def _end_drag(self) -> None:
        """A brush, eraser or take-variant drag in progress becomes one undo step now."""
        if self._last is not None:
            self._last = None
            self._commit(self.state.tool)

    def set_tool(self, tool: str) -> None:
        """Switch tools: a drag in progress ends, and polygon corners not filled yet are dropped."""
        self._end_drag()
        self._lasso = None
        self.cancel_polygon()
        self.state.tool = tool

    def cancel_polygon(self) -> None:
        self.polygon = []
        self.polygonChanged.emit([])

    def finish_polygon(self) -> None:
        """Fill the polygon (or lasso) drawn so far with the current class."""
        doc = self.doc
        self._end_drag()
        if doc is None or len(self.polygon) < 3:
            self.cancel_polygon()
            return
        doc.begin_stroke("polygon")
        self._apply(np.flatnonzero(polygon_mask(doc.shape, self.polygon)))
        self._commit("polygon")
        self.cancel_polygon()

    def refine_to_edges(self) -> None:
        """GrabCut: snap the current class's region near the polygon (or the whole class) to image edges."""
        doc, image = self.doc, self.image
        if doc is None or image is None:
            return
        self._end_drag()
        region = polygon_mask(doc.shape, self.polygon) if len(self.polygon) >= 3 else doc.labels == self.state.cls
        self.cancel_polygon()
        refined = grabcut_refine(image, region)
        grown = restrict(np.flatnonzero(refined & ~region), doc.labels, self.state.preserve)
        shrunk = restrict(np.flatnonzero(region & ~refined & (doc.labels == self.state.cls)), doc.labels,
                          self.state.preserve)
        doc.begin_stroke("refine to edges")
        doc.paint(index=grown, value=self.state.cls)
        doc.paint(index=shrunk, value=0)
        self._commit("refine to edges")

    def accept_all(self) -> None:
        """Mark every pixel verified as it is (the person accepts the current answer)."""
        doc = self.doc
        if doc is None:
            return
        self._end_drag()
        doc.begin_stroke("accept")
        idx = np.flatnonzero(~doc.verified)
        doc.paint(index=idx, value=doc.labels.reshape(-1)[idx])
        self._commit("accept")
