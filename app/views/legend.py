"""The class legend: swatch, name and share of pixels, with a check box to show or hide each class."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem


def swatch(rgb, size: int = 14) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(QColor(*[int(c) for c in rgb]))
    return QIcon(pm)


class ClassLegend(QListWidget):
    """Emits ``hiddenChanged`` with the set of hidden class indices."""

    hiddenChanged = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.classes: tuple[str, ...] = ()
        self.itemChanged.connect(self._item_changed)

    def set_classes(self, classes: tuple[str, ...], palette: np.ndarray) -> None:
        self.blockSignals(True)
        self.clear()
        self.classes = classes
        for i, (name, rgb) in enumerate(zip(classes, palette)):
            item = QListWidgetItem(swatch(rgb), name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            hide = i == 0 and name.lower() in ("background", "_background_")  # show objects, not the ground
            item.setCheckState(Qt.CheckState.Unchecked if hide else Qt.CheckState.Checked)
            item.setData(Qt.ItemDataRole.UserRole, i)
            self.addItem(item)
        self.blockSignals(False)
        self.hiddenChanged.emit(self.hidden())

    def set_fractions(self, fractions: np.ndarray | None) -> None:
        self.blockSignals(True)
        for i in range(self.count()):
            item = self.item(i)
            name = self.classes[i]
            item.setText(name if fractions is None else f"{name}  —  {100 * fractions[i]:.1f} %")
        self.blockSignals(False)

    def hidden(self) -> set[int]:
        return {i for i in range(self.count()) if self.item(i).checkState() != Qt.CheckState.Checked}

    def set_hidden(self, hidden: set[int]) -> None:
        for i in range(self.count()):
            self.item(i).setCheckState(Qt.CheckState.Unchecked if i in hidden else Qt.CheckState.Checked)

    def _item_changed(self, _item) -> None:
        self.hiddenChanged.emit(self.hidden())
