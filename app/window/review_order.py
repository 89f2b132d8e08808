"""Which image to correct next: the folder run's uncertainty per image, the list's sort, "Next image to correct"."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QStatusBar

from fcn_core import UNCERTAINTY_MEASURES

from .actions import Actions
from ..views.file_list import FileList
from ..services.model_service import ModelService


class ReviewOrder(QObject):
    """Records each image's uncertainty as the folder run measures it, sorts the list as File → Sort images
    says, and opens the most uncertain image not corrected yet on "Next image to correct" (N)."""

    def __init__(self, actions: Actions, files: FileList, service: ModelService, status: QStatusBar,
                 show_path: Callable[[Path], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.files, self.status, self.show_path = files, status, show_path
        self.actions = actions
        service.uncertaintyReady.connect(self._measured)
        service.folderEnded.connect(self._resort)
        service.modelChanged.connect(lambda _meta: self.forget())
        actions.sort_group.triggered.connect(lambda act: self.sort(act.data()))
        actions.plain["next_to_correct"].triggered.connect(lambda: self.open_next())

    @property
    def measure(self) -> str:
        """The measure the list sorts by, or mean entropy while it keeps the opened order."""
        return self.files.sort_measure or "entropy"

    def sort(self, key: str) -> None:
        self.files.sort_by(None if key == "opened" else key)
        if key != "opened" and not self.files.measured:
            self.status.showMessage("No image is ranked yet: Run all images (Ctrl+R) measures how unsure the "
                                    "model is of each.", 10000)

    def open_next(self) -> None:
        path = self.files.next_to_correct(self.measure)
        if path is None:
            self.status.showMessage(
                "Every ranked image has corrections." if self.files.measured else
                "No image is ranked yet: Run all images (Ctrl+R) first, then N opens the one the model is least "
                "sure of.", 10000)
            return
        self.show_path(path)
        self.status.showMessage(f"{path.name}: the most uncertain image not corrected yet "
                                f"({UNCERTAINTY_MEASURES[self.measure]}).", 8000)

    def forget(self) -> None:
        """Another model: the ranking described the old one."""
        self.files.clear_uncertainty()
        if self.files.sort_measure is not None:
            self.files.sort_by(self.files.sort_measure)

    def _measured(self, path: Path, value) -> None:
        self.files.set_uncertainty(path, value)

    def _resort(self) -> None:
        if self.files.sort_measure is not None:
            self.files.sort_by(self.files.sort_measure)
