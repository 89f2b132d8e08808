"""Correcting labels: the label session (open, save, autosave, retry) and the paint tools, put together.

The two jobs live in :mod:`.label_session` and :mod:`.tool_dispatch`; this object joins them (a drag in
progress ends before an undo, a close or a save) and is what the image item hands the mouse to.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal

from fcn_core import LabelDocument, Workspace

from .label_session import AUTOSAVE_MS, RETRY_MS, LabelSession
from .tool_dispatch import TOOLS, ToolDispatch, ToolState

__all__ = ["AUTOSAVE_MS", "RETRY_MS", "TOOLS", "Editor", "ToolState"]


class Editor(QObject):
    """``session`` owns the document; ``tools`` paints on it. Mouse events arrive as press/move/release."""

    pressedNowhere = Signal(str)  # a press while the image's labels were refused: why nothing is painted

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.refusal = ""  # why this image's labels could not be opened ("" when they are, or none was tried)
        self.session = LabelSession(self)
        self.tools = ToolDispatch(self.session, self)
        self.changed = self.session.changed
        self.saved = self.session.saved
        self.saveFailed = self.session.saveFailed
        self.historyChanged = self.session.historyChanged
        self.classPicked = self.tools.classPicked
        self.polygonChanged = self.tools.polygonChanged

    # what the session holds ----------------------------------------------------------------------
    @property
    def doc(self) -> LabelDocument | None:
        return self.session.doc

    @property
    def path(self) -> Path | None:
        return self.session.path

    @property
    def predictions(self) -> dict:
        return self.session.predictions

    @property
    def classes(self) -> tuple[str, ...]:
        return self.session.classes

    @property
    def image(self) -> np.ndarray | None:
        return self.session.image

    @property
    def unsaved(self) -> bool:
        return self.session.unsaved

    @property
    def has_unsaved(self) -> bool:
        return self.session.has_unsaved

    @property
    def save_timer(self):
        return self.session.save_timer

    @property
    def last_failure(self) -> str:
        return self.session.last_failure

    @property
    def state(self) -> ToolState:
        return self.tools.state

    @property
    def polygon(self) -> list[tuple[float, float]]:
        return self.tools.polygon

    def workspace(self, path: Path) -> Workspace:
        return self.session.workspace(path)

    def set_workspace_root(self, folder: Path | None) -> None:
        self.session.set_workspace_root(folder)

    # joined operations ---------------------------------------------------------------------------
    def open(self, path: Path, image: np.ndarray, predictions: dict, classes: tuple[str, ...], palette: np.ndarray,
             start_variant: str) -> None:
        self.tools.reset()
        self.session.open(path, image, predictions, classes, palette, start_variant)

    def close(self) -> None:
        self.tools.reset()
        self.session.close()
        self.refusal = ""

    def save(self) -> bool:
        self.tools.end_drag()
        return self.session.save()

    def release(self) -> None:
        """The mouse button went up (or the window closes mid-drag): the drag becomes a stroke."""
        self.tools.release()

    def undo(self) -> None:
        """Undo the last stroke (a drag in progress ends first, so it is the one undone)."""
        self.tools.end_drag()
        self.session.undo()

    def redo(self) -> None:
        self.tools.end_drag()
        self.session.redo()

    # the mouse, handed on by the image item -------------------------------------------------------
    def press(self, x: float, y: float) -> None:
        if self.session.doc is None and self.refusal:
            self.pressedNowhere.emit(self.refusal)  # the person is told why nothing is painted, each time
            return
        self.tools.press(x, y)

    def move(self, x: float, y: float) -> None:
        self.tools.move(x, y)

    def set_tool(self, tool: str) -> None:
        self.tools.set_tool(tool)

    def finish_polygon(self) -> None:
        self.tools.finish_polygon()

    def cancel_polygon(self) -> None:
        self.tools.cancel_polygon()

    def refine_to_edges(self) -> None:
        self.tools.refine_to_edges()

    def accept_all(self) -> None:
        self.tools.accept_all()
