"""The list of opened images, with thumbnails and a status per image."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem

THUMB = 48


def thumbnail(rgb: np.ndarray) -> QIcon:
    h, w = rgb.shape[:2]
    s = THUMB / max(h, w)
    small = cv2.resize(rgb, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA)
    small = np.ascontiguousarray(small)
    img = QImage(small.data, small.shape[1], small.shape[0], small.strides[0], QImage.Format.Format_RGB888).copy()
    return QIcon(QPixmap.fromImage(img))


class FileList(QListWidget):
    """Emits ``activated_path`` when the user picks an image."""

    activated_path = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setIconSize(QSize(THUMB, THUMB))
        self.paths: list[Path] = []
        self.currentRowChanged.connect(self._row_changed)

    def set_paths(self, paths: list[Path]) -> None:
        self.blockSignals(True)
        self.clear()
        self.paths = list(paths)
        for p in self.paths:
            item = QListWidgetItem(p.name)
            item.setToolTip(str(p))
            self.addItem(item)
        self.blockSignals(False)

    def add_paths(self, paths: list[Path]) -> None:
        self.set_paths(self.paths + [p for p in paths if p not in self.paths])

    def row_of(self, path: Path) -> int:
        try:
            return self.paths.index(Path(path))
        except ValueError:
            return -1

    def set_status(self, path: Path, status: str, rgb: np.ndarray | None = None) -> None:
        row = self.row_of(path)
        if row < 0:
            return
        item = self.item(row)
        item.setText(f"{Path(path).name}\n{status}" if status else Path(path).name)
        if rgb is not None:
            item.setIcon(thumbnail(rgb))

    def select(self, path: Path) -> None:
        row = self.row_of(path)
        if row >= 0 and row != self.currentRow():
            self.blockSignals(True)
            self.setCurrentRow(row)
            self.blockSignals(False)

    def step(self, delta: int) -> None:
        if self.paths:
            self.setCurrentRow((max(self.currentRow(), 0) + delta) % len(self.paths))

    def _row_changed(self, row: int) -> None:
        if 0 <= row < len(self.paths):
            self.activated_path.emit(self.paths[row])

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3):
            event.ignore()  # variant keys belong to the window
            return
        super().keyPressEvent(event)
