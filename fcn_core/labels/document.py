"""The label document: a corrected label map, the mask of pixels a person verified, and undo history.

Headless (numpy only). Each stroke is one undo step holding only the pixels it changed (flat indices,
their old labels and old verified flags, and the new labels), in a history bounded by memory.
Listeners hear of every change with the rectangle it touched, so a view can repaint only that.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..model.palette import VOID

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)


@dataclass(frozen=True)
class StrokeAtom:
    """What one stroke changed: enough to undo and redo it."""

    index: np.ndarray        # flat pixel indices, int64, unique
    old_labels: np.ndarray   # uint8
    old_verified: np.ndarray  # bool
    new_labels: np.ndarray   # uint8
    new_verified: np.ndarray  # bool
    name: str

    @property
    def nbytes(self) -> int:
        return self.index.nbytes + 2 * (self.old_labels.nbytes + self.old_verified.nbytes)


def _bounds(index: np.ndarray, width: int) -> Rect | None:
    if index.size == 0:
        return None
    ys, xs = np.divmod(index, width)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


class LabelDocument:
    """Labels (H×W uint8, 255 = void) and verified mask (H×W bool) with per-stroke undo/redo."""

    def __init__(self, labels: np.ndarray, verified: np.ndarray | None = None, n_class: int = 256,
                 history_bytes: int = 256 * 2**20) -> None:
        if labels.ndim != 2:
            raise ValueError("labels must be a 2-D array")
        self.labels = np.ascontiguousarray(labels, dtype=np.uint8).copy()
        self.verified = np.zeros(labels.shape, bool) if verified is None else np.asarray(verified, bool).copy()
        if self.verified.shape != self.labels.shape:
            raise ValueError(f"verified mask {self.verified.shape} and labels {self.labels.shape} differ in size")
        self.n_class = n_class
        self.history_bytes = history_bytes
        self.undo_stack: deque[StrokeAtom] = deque()
        self.redo_stack: list[StrokeAtom] = []
        self._listeners: list[Callable[[Rect], None]] = []
        self._touched: np.ndarray | None = None  # pixels the open stroke changed; None outside a stroke
        self._stroke_name = ""
        self._forgot_strokes = False  # the history dropped its oldest strokes (over history_bytes)
        self.revision = 0  # grows with every change; a saver compares it with what it wrote

    @property
    def shape(self) -> tuple[int, int]:
        return self.labels.shape  # type: ignore[return-value]

    def subscribe(self, fn: Callable[[Rect], None]) -> None:
        self._listeners.append(fn)

    def unsubscribe(self, fn: Callable[[Rect], None]) -> None:
        self._listeners.remove(fn)

    def _notify(self, rect: Rect | None) -> None:
        if rect is None:
            return
        self.revision += 1
        for fn in self._listeners:
            fn(rect)

    # strokes -----------------------------------------------------------------------------------
    def begin_stroke(self, name: str = "paint") -> None:
        """Start one undo step (a drag of many dabs is one stroke)."""
        if self._touched is not None:
            self.end_stroke()
        self._stroke_name = name
        self._stroke_index: list[np.ndarray] = []
        self._stroke_old_labels: list[np.ndarray] = []
        self._stroke_old_verified: list[np.ndarray] = []
        self._touched = np.zeros(self.labels.size, bool)

    def paint(self, mask: np.ndarray | None = None, value: int | np.ndarray = 0, index: np.ndarray | None = None,
              verify: bool = True) -> Rect | None:
        """Set pixels (a boolean H×W mask or flat indices) to ``value`` (a class, or per-pixel values)."""
        one_shot = self._touched is None
        if one_shot:
            self.begin_stroke()
        flat_labels = self.labels.reshape(-1)
        flat_verified = self.verified.reshape(-1)
        idx = np.flatnonzero(mask) if index is None else np.asarray(index, np.int64)
        values = np.broadcast_to(np.asarray(value, np.uint8), idx.shape) if np.ndim(value) == 0 else np.asarray(value, np.uint8)
        if np.ndim(value) == 0 and int(value) != VOID and int(value) >= self.n_class:
            raise ValueError(f"class {int(value)} is beyond this model's {self.n_class} classes")
        changed = (flat_labels[idx] != values) | (verify & ~flat_verified[idx])
        idx, values = idx[changed], values[changed]
        first = ~self._touched[idx]
        self._stroke_index.append(idx[first])
        self._stroke_old_labels.append(flat_labels[idx[first]].copy())
        self._stroke_old_verified.append(flat_verified[idx[first]].copy())
        self._touched[idx] = True
        flat_labels[idx] = values
        if verify:
            flat_verified[idx] = True
        rect = _bounds(idx, self.shape[1])
        self._notify(rect)
        if one_shot:
            self.end_stroke()
        return rect

    def end_stroke(self) -> StrokeAtom | None:
        """Close the current stroke and push it on the undo stack (nothing if it changed nothing)."""
        if self._touched is None:
            return None
        self._touched = None
        index = np.concatenate(self._stroke_index) if self._stroke_index else np.zeros(0, np.int64)
        if index.size == 0:
            return None
        atom = StrokeAtom(index, np.concatenate(self._stroke_old_labels), np.concatenate(self._stroke_old_verified),
                          self.labels.reshape(-1)[index].copy(), self.verified.reshape(-1)[index].copy(),
                          self._stroke_name)
        self.undo_stack.append(atom)
        self.redo_stack.clear()
        while sum(a.nbytes for a in self.undo_stack) > self.history_bytes and len(self.undo_stack) > 1:
            self.undo_stack.popleft()
            self._forgot_strokes = True
        return atom

    @property
    def in_stroke(self) -> bool:
        return self._touched is not None

    @property
    def as_made(self) -> bool:
        """Whether the document holds what it was made with: every stroke since was undone (or none made)."""
        return not self.undo_stack and not self._forgot_strokes and self._touched is None

    # undo / redo -------------------------------------------------------------------------------
    def undo(self) -> bool:
        return self._move(self.undo_stack, self.redo_stack, undo=True)

    def redo(self) -> bool:
        return self._move(self.redo_stack, self.undo_stack, undo=False)

    def _move(self, source, target, undo: bool) -> bool:
        """Pop a stroke from ``source``, write its old (undo) or new (redo) pixels, push it on ``target``."""
        self.end_stroke()
        if not source:
            return False
        atom = source.pop()
        self.labels.reshape(-1)[atom.index] = atom.old_labels if undo else atom.new_labels
        self.verified.reshape(-1)[atom.index] = atom.old_verified if undo else atom.new_verified
        target.append(atom)
        self._notify(_bounds(atom.index, self.shape[1]))
        return True
