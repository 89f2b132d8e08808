"""Correcting labels: the tools, their mouse handling, undo (QUndoStack) and autosave to the workspace."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from fcn_core import LabelDocument, Workspace
from fcn_core.paint_tools import flood_fill_mask, grabcut_refine, polygon_mask, restrict, segment_indices

TOOLS = ("brush", "eraser", "fill", "polygon", "eyedropper", "take_variant", "grabcut")
AUTOSAVE_MS = 400


@dataclass
class ToolState:
    tool: str = "brush"
    cls: int = 1
    radius: float = 6.0
    erase_to_void: bool = False
    preserve: int | None = None  # paint only over this class ("preserve other labels")
    source_variant: str = "8s"   # what "take this variant here" copies


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
        self.doc.redo()

    def undo(self) -> None:
        self.doc.undo()


class Editor(QObject):
    """Owns the label document of the current image and applies the tools to it."""

    changed = Signal(object)  # dirty rect (x0, y0, x1, y1)
    saved = Signal(str)
    saveFailed = Signal(str)
    classPicked = Signal(int)

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
        self.save_timer = QTimer(self)
        self.save_timer.setSingleShot(True)
        self.save_timer.setInterval(AUTOSAVE_MS)
        self.save_timer.timeout.connect(self.save)

    # documents ---------------------------------------------------------------------------------
    def workspace(self, path: Path) -> Workspace:
        return Workspace(self.workspace_root) if self.workspace_root else Workspace.beside(Path(path).parent)

    def open(self, path: Path, image: np.ndarray, predictions: dict, classes: tuple[str, ...], palette: np.ndarray,
             start_variant: str) -> None:
        """Edit ``path``: its saved labels from the workspace, or the prediction as a starting point."""
        self.save()
        path = Path(path)
        saved = self.workspace(path).load(path, image.shape[:2], len(classes))  # may raise: nothing changed yet
        labels, verified = saved if saved is not None else (predictions[start_variant].labels, None)
        doc = LabelDocument(labels, verified, n_class=len(classes))
        self.path, self.image, self.predictions = path, image, predictions
        self.classes, self.palette = classes, palette
        self.doc = doc
        self.doc.subscribe(self.changed.emit)
        self.doc.subscribe(lambda _r: self._schedule_save())
        self._saved_revision = self.doc.revision
        self.unsaved = False
        self.undo_stack.clear()
        self.polygon = []
        self.changed.emit((0, 0, image.shape[1], image.shape[0]))

    def close(self) -> None:
        self.save()
        self.doc = None
        self.path = None
        self.undo_stack.clear()

    def _schedule_save(self) -> None:
        self.unsaved = True
        self.save_timer.start()

    def save(self) -> bool:
        """Write the document to the workspace now (atomic files); on failure keep the edits and say so."""
        self.save_timer.stop()
        doc, path = self.doc, self.path
        if doc is None or path is None or doc.revision == self._saved_revision:
            return True
        if doc.in_stroke:
            self.save_timer.start()
            return False
        try:
            self.workspace(path).save(path, doc, self.palette, self.classes)
        except OSError as e:
            self.saveFailed.emit(f"Could not save the labels of {path.name}: {e.strerror or e}. "
                                 "Your edits are kept in memory; free space or fix permissions and they will be saved.")
            self.save_timer.start(5000)
            return False
        self._saved_revision = doc.revision
        self.unsaved = False
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

    def move(self, x: float, y: float) -> None:
        if self.doc is not None and self.state.tool == "polygon" and self._lasso is not None:
            self.polygon.append((x, y))
            self._lasso += 1
            return
        if self.doc is None or self._last is None:
            return
        self._apply(segment_indices(self.doc.shape, self._last, (x, y), self.state.radius))
        self._last = (x, y)

    def release(self) -> None:
        lasso, self._lasso = self._lasso, None
        if lasso is not None and lasso > 2:
            self.finish_polygon()
        if self._last is not None:
            self._last = None
            self._commit(self.state.tool)

    def finish_polygon(self) -> None:
        """Fill the polygon (or lasso) drawn so far with the current class."""
        doc = self.doc
        if doc is None or len(self.polygon) < 3:
            self.polygon = []
            return
        doc.begin_stroke("polygon")
        self._apply(np.flatnonzero(polygon_mask(doc.shape, self.polygon)))
        self._commit("polygon")
        self.polygon = []

    def refine_to_edges(self) -> None:
        """GrabCut: snap the current class's region near the polygon (or the whole class) to image edges."""
        doc, image = self.doc, self.image
        if doc is None or image is None:
            return
        region = polygon_mask(doc.shape, self.polygon) if len(self.polygon) >= 3 else doc.labels == self.state.cls
        self.polygon = []
        refined = grabcut_refine(image, region)
        doc.begin_stroke("refine to edges")
        grown = refined & ~region
        shrunk = region & ~refined & (doc.labels == self.state.cls)
        doc.paint(index=np.flatnonzero(grown), value=self.state.cls)
        doc.paint(index=np.flatnonzero(shrunk), value=0)
        self._commit("refine to edges")

    def accept_all(self) -> None:
        """Mark every pixel verified as it is (the person accepts the current answer)."""
        doc = self.doc
        if doc is None:
            return
        doc.begin_stroke("accept")
        idx = np.flatnonzero(~doc.verified)
        doc.paint(index=idx, value=doc.labels.reshape(-1)[idx])
        self._commit("accept")
