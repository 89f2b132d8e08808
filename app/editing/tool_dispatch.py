"""The paint tools: mouse presses, drags and clicks in image coordinates become strokes on the session's
document (one drag = one undo step)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QApplication

from fcn_core.labels.paint_tools import flood_fill_mask, grabcut_refine, polygon_mask, restrict, segment_indices

from .label_session import LabelSession

TOOLS = ("brush", "eraser", "fill", "polygon", "eyedropper", "take_variant")
DRAG_TOOLS = ("brush", "eraser", "take_variant")


@dataclass
class ToolState:
    tool: str = "brush"
    cls: int = 1
    radius: float = 6.0
    erase_to_void: bool = False
    preserve: int | None = None  # paint only over this class ("preserve other labels")
    source_variant: str = "8s"   # what "take this variant here" copies


class ToolDispatch(QObject):
    """Applies the current tool to :attr:`session`'s document."""

    classPicked = Signal(int)
    polygonChanged = Signal(object)  # the corners placed so far, [(x, y), ...]

    def __init__(self, session: LabelSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.state = ToolState()
        self.polygon: list[tuple[float, float]] = []
        self._last: tuple[float, float] | None = None
        self._lasso: int | None = None  # points added by the current polygon drag

    def stroke_name(self) -> str:
        """What Undo calls a stroke of the current tool."""
        tool = self.state.tool
        if tool == "take_variant":
            return f"take FCN-{self.state.source_variant}"
        return {"brush": "brush stroke", "eraser": "eraser stroke"}.get(tool, tool)

    def _value(self) -> int:
        if self.state.tool == "eraser":
            return 255 if self.state.erase_to_void else 0
        return self.state.cls

    def _apply(self, index: np.ndarray) -> None:
        doc = self.session.doc
        assert doc is not None
        index = restrict(index, doc.labels, self.state.preserve)
        if self.state.tool == "take_variant":
            pred = self.session.predictions[self.state.source_variant].labels.reshape(-1)
            doc.paint(index=index, value=pred[index])
        else:
            doc.paint(index=index, value=self._value())

    def _commit(self) -> None:
        doc = self.session.doc
        if doc is not None and doc.end_stroke() is not None:
            self.session.historyChanged.emit()

    def press(self, x: float, y: float) -> None:
        """Mouse press at image (x, y)."""
        doc = self.session.doc
        if doc is None:
            return
        h, w = doc.shape
        tool = self.state.tool
        if tool in DRAG_TOOLS:
            doc.begin_stroke(self.stroke_name())
            self._last = (x, y)
            self._apply(segment_indices(doc.shape, (x, y), (x, y), self.state.radius))
        elif not (0 <= x < w and 0 <= y < h):
            return
        elif tool == "fill":
            doc.begin_stroke("fill")
            self._apply(np.flatnonzero(flood_fill_mask(doc.labels, int(x), int(y))))
            self._commit()
        elif tool == "eyedropper":
            value = int(doc.labels[int(y), int(x)])
            if value < len(self.session.classes):
                self.state.cls = value
                self.classPicked.emit(value)
        elif tool == "polygon":  # clicks add corners (Return fills); a drag draws a lasso, filled on release
            self.polygon.append((x, y))
            self._lasso = 0
            self.polygonChanged.emit(list(self.polygon))

    def move(self, x: float, y: float) -> None:
        doc = self.session.doc
        if doc is not None and self.state.tool == "polygon" and self._lasso is not None:
            self.polygon.append((x, y))
            self._lasso += 1
            self.polygonChanged.emit(list(self.polygon))
            return
        if doc is None or self._last is None:
            return
        self._apply(segment_indices(doc.shape, self._last, (x, y), self.state.radius))
        self._last = (x, y)

    def release(self) -> None:
        lasso, self._lasso = self._lasso, None
        if lasso is not None and lasso > 2:
            self.finish_polygon()
        self.end_drag()

    def end_drag(self) -> None:
        """A brush, eraser or take-variant drag in progress becomes one undo step now."""
        if self._last is not None:
            self._last = None
            self._commit()

    def reset(self) -> None:
        """The document goes away: end any drag, drop unfilled corners."""
        self.end_drag()
        self._lasso = None
        self.cancel_polygon()

    def set_tool(self, tool: str) -> None:
        """Switch tools: a drag in progress ends, and polygon corners not filled yet are dropped."""
        if tool not in TOOLS:
            raise ValueError(f"unknown tool {tool!r}")
        self.reset()
        self.state.tool = tool

    def cancel_polygon(self) -> None:
        self.polygon = []
        self.polygonChanged.emit([])

    def finish_polygon(self) -> None:
        """Fill the polygon (or lasso) drawn so far with the current class."""
        doc = self.session.doc
        self.end_drag()
        if doc is None or len(self.polygon) < 3:
            self.cancel_polygon()
            return
        doc.begin_stroke("polygon")
        self._apply(np.flatnonzero(polygon_mask(doc.shape, self.polygon)))
        self._commit()
        self.cancel_polygon()

    def refine_to_edges(self) -> None:
        """GrabCut: snap the current class's region near the polygon (or the whole class) to image edges."""
        doc, image = self.session.doc, self.session.image
        if doc is None or image is None:
            return
        self.end_drag()
        region = polygon_mask(doc.shape, self.polygon) if len(self.polygon) >= 3 else doc.labels == self.state.cls
        self.cancel_polygon()
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)  # bounded (about a second at most), but felt
        try:
            refined = grabcut_refine(image, region)
        finally:
            QApplication.restoreOverrideCursor()
        grown = restrict(np.flatnonzero(refined & ~region), doc.labels, self.state.preserve)
        shrunk = restrict(np.flatnonzero(region & ~refined & (doc.labels == self.state.cls)), doc.labels,
                          self.state.preserve)
        doc.begin_stroke("refine to edges")
        doc.paint(index=grown, value=self.state.cls)
        doc.paint(index=shrunk, value=0)
        self._commit()

    def accept_all(self) -> None:
        """Mark every pixel verified as it is (the person accepts the current answer)."""
        doc = self.session.doc
        if doc is None:
            return
        self.end_drag()
        doc.begin_stroke("accept all")
        idx = np.flatnonzero(~doc.verified)
        doc.paint(index=idx, value=doc.labels.reshape(-1)[idx])
        self._commit()
