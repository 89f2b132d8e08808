"""The list of opened images: a thumbnail, a status and a saved-corrections mark per image."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyledItemDelegate, QStyleOptionViewItem

from fcn_core import UNCERTAINTY_MEASURES, Uncertainty, most_uncertain

from ..services.thumbnails import ThumbnailLoader, square_image

THUMB = 48


def thumbnail(rgb: np.ndarray) -> QIcon:
    """A square THUMB×THUMB icon of an image already in memory."""
    h, w = rgb.shape[:2]
    s = min(1.0, THUMB / max(h, w))
    small = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return QIcon(QPixmap.fromImage(square_image(small, THUMB)))


def verified_percent(share: float) -> int:
    """``share`` (0–1) as a whole percentage; 100 only when all of it is verified."""
    pct = round(100 * share)
    return 99 if share < 1 and pct == 100 else pct


def correction_text(share: float) -> str:
    """The row's mark for saved corrections, e.g. ``✎ 63 % verified`` (✔ once all is verified): short, so that
    the dock's width shows it whole beside a status (the tooltip says it in words)."""
    return f"{'✔' if share >= 1 else '✎'} {verified_percent(share)} % verified"


def _uncertainty_note(value: Uncertainty, measure: str) -> str:
    """The row's third line: the measure the list sorts by (mean entropy while it is as opened), in short."""
    if measure == "disagreement":
        return f"32s/8s disagree on {100 * value.disagreement:.1f} %"
    return f"{UNCERTAINTY_MEASURES[measure]} {value.value(measure):.3f}"


class _RowDelegate(QStyledItemDelegate):
    """Every row as tall as a thumbnail (or two text lines), with the icon's place kept while it loads."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        blank = QPixmap(THUMB, THUMB)
        blank.fill(Qt.GlobalColor.transparent)
        self._blank = QIcon(blank)

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex) -> None:  # noqa: N802
        super().initStyleOption(option, index)
        if option.icon.isNull():  # the text then starts where it will stay once the thumbnail arrives
            option.icon = self._blank
            option.features |= QStyleOptionViewItem.ViewItemFeature.HasDecoration
            option.decorationSize = QSize(THUMB, THUMB)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802
        size = super().sizeHint(option, index)
        lines = max(2, str(index.data() or "").count("\n") + 1)  # the uncertainty, once measured, is a third line
        return QSize(size.width(), max(THUMB, lines * option.fontMetrics.lineSpacing()) + 6)


class FileList(QListWidget):
    """The opened images; emits ``activated_path`` when the user picks one."""

    activated_path = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setItemDelegate(_RowDelegate(self))
        self.paths: list[Path] = []
        self._rows: dict[Path, int] = {}
        self._status: dict[Path, str] = {}
        self._corrections: dict[Path, float] = {}
        self._icons: dict[Path, QIcon] = {}  # survives rebuilding the list: a thumbnail is made once per path
        self._unreadable: dict[Path, str] = {}
        self._uncertainty: dict[Path, Uncertainty] = {}  # from the last folder run
        self._opened: list[Path] = []  # the order the images were opened in (the list may show another)
        self.sort_measure: str | None = None  # None: as opened; else an uncertainty measure, most uncertain first
        self._names: Counter[str] = Counter()  # file names listed, to tell two folders' scene_01.jpg apart
        # a row too long for the dock ends in "…" (the tooltip has it all), rather than a sideways scroll bar
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)  # a cut in the middle can drop the "0 %" of "0 % verified"
        self._loader = ThumbnailLoader(THUMB, self)
        self._loader.ready.connect(self._icon_ready)
        self._loader.failed.connect(self._icon_failed)
        self.currentRowChanged.connect(self._row_changed)

    # the list -----------------------------------------------------------------------------------
    def set_paths(self, paths: list[Path]) -> None:
        """Show ``paths`` (duplicates dropped); rows already shown are kept when the list only grows."""
        new = list(dict.fromkeys(map(Path, paths)))
        if new[:len(self.paths)] == self.paths:  # only grows: the new ones go to the end, in either order
            self._opened += new[len(self.paths):]
            self._append(new[len(self.paths):])
            return
        self._opened = new
        self._loader.cancel()
        self.blockSignals(True)
        QListWidget.clear(self)
        self.blockSignals(False)
        keep = set(new)
        for cache in (self._status, self._corrections, self._icons, self._unreadable, self._uncertainty):
            for p in [p for p in cache if p not in keep]:
                del cache[p]
        self.paths, self._rows = [], {}
        self._names.clear()
        self._append(new)

    def add_paths(self, paths: list[Path]) -> list[Path]:
        """Append the paths not listed yet, in order; returns those it added."""
        old = len(self.paths)
        self.set_paths(self.paths + list(paths))
        return self.paths[old:]

    def clear(self) -> None:
        """Remove every image and cancel the thumbnails still queued."""
        self.set_paths([])

    def cancel_thumbnails(self) -> None:
        """Stop making thumbnails (the window is closing); the rows stay."""
        self._loader.cancel()

    def row_of(self, path: Path) -> int:
        return self._rows.get(Path(path), -1)

    # per image --------------------------------------------------------------------------------
    def set_status(self, path: Path, status: str, rgb: np.ndarray | None = None) -> None:
        """The row's second line; ``rgb``, the decoded image, gives a thumbnail at once if none is there yet."""
        path = Path(path)
        if path not in self._rows:
            return
        self._status[path] = status
        if rgb is not None and path not in self._icons:
            self._icons[path] = thumbnail(rgb)
        self._refresh(path)

    def set_correction(self, path: Path, verified_share: float | None) -> None:
        """Mark ``path`` as having saved corrections, ``verified_share`` (0–1) of them verified; None unmarks."""
        path = Path(path)
        if verified_share is None:
            self._corrections.pop(path, None)
        else:
            self._corrections[path] = min(1.0, max(0.0, float(verified_share)))
        if path in self._rows:
            self._refresh(path)

    def set_uncertainty(self, path: Path, value: Uncertainty) -> None:
        """Record how unsure the model is of ``path`` (the folder run measures it); re-sorts if sorted by it."""
        path = Path(path)
        if path not in self._rows:
            return
        self._uncertainty[path] = value
        self._refresh(path)

    def sort_by(self, measure: str | None) -> None:
        """Most uncertain first by ``measure`` (images not measured yet after the others, as opened), or as
        opened (None). The current image stays current."""
        if measure is not None and measure not in UNCERTAINTY_MEASURES:
            raise ValueError(f"unknown measure {measure!r}")
        self.sort_measure = measure
        current = self.paths[self.currentRow()] if 0 <= self.currentRow() < len(self.paths) else None
        measured = {p: self._uncertainty[p] for p in self._opened if p in self._uncertainty}
        order = list(self._opened) if measure is None else \
            most_uncertain(measured, measure) + [p for p in self._opened if p not in measured]
        if order == self.paths:
            return
        self.blockSignals(True)
        for row, p in enumerate(order):
            self._rows[p] = row
        self.paths = order
        for p in order:
            self._refresh(p)
        if current is not None:
            self.setCurrentRow(self._rows[current])
        self.blockSignals(False)

    def clear_uncertainty(self) -> None:
        """Forget every image's uncertainty (it described another model)."""
        measured, self._uncertainty = list(self._uncertainty), {}
        for p in measured:
            if p in self._rows:
                self._refresh(p)

    def next_to_correct(self, measure: str) -> Path | None:
        """The most uncertain measured image without saved corrections (None when there is none)."""
        measured = {p: u for p, u in self._uncertainty.items() if p in self._rows}
        ranked = most_uncertain(measured, measure, exclude=self._corrections)
        return ranked[0] if ranked else None

    @property
    def measured(self) -> int:
        """How many listed images have an uncertainty."""
        return sum(p in self._rows for p in self._uncertainty)

    def corrected_paths(self) -> list[Path]:
        """The listed paths marked as having saved corrections, in list order."""
        return [p for p in self.paths if p in self._corrections]

    # navigation -------------------------------------------------------------------------------
    def select(self, path: Path) -> None:
        row = self.row_of(path)
        if row >= 0 and row != self.currentRow():
            self.blockSignals(True)
            self.setCurrentRow(row)
            self.blockSignals(False)

    def step(self, delta: int) -> None:
        if self.paths:
            self.setCurrentRow((max(self.currentRow(), 0) + delta) % len(self.paths))

    # inside -----------------------------------------------------------------------------------
    def _append(self, paths: list[Path]) -> None:
        self.blockSignals(True)
        self._names.update(p.name for p in paths)
        for p in paths:
            self._rows[p] = len(self.paths)
            self.paths.append(p)
            self.addItem(QListWidgetItem())
            self._refresh(p)
            if p not in self._icons and p not in self._unreadable:
                self._loader.request(p)
        shared = {p.name for p in paths if self._names[p.name] > 1}
        for p in self.paths[:len(self.paths) - len(paths)]:
            if p.name in shared:  # listed before its namesake came: now it needs its folder too
                self._refresh(p)
        self.blockSignals(False)

    def display_name(self, path: Path) -> str:
        """The file's name, with its folder when another listed image has the same name."""
        return f"{path.parent.name}/{path.name}" if self._names[path.name] > 1 else path.name

    def _refresh(self, path: Path) -> None:
        item = self.item(self._rows[path])
        share = self._corrections.get(path)
        unsure = self._uncertainty.get(path)
        measure = self.sort_measure or "entropy"
        notes = [self._status.get(path, ""), correction_text(share) if share is not None else "",
                 "⚠ unreadable" if path in self._unreadable else ""]
        lines = [self.display_name(path), " · ".join(n for n in notes if n),
                 _uncertainty_note(unsure, measure) if unsure is not None else ""]
        item.setText("\n".join(line for line in lines if line))
        tip = [str(path)]
        if share is not None:
            tip.append(f"Saved corrections; {verified_percent(share)} % of the label verified")
        if path in self._unreadable:
            tip.append(f"No preview: {self._unreadable[path]}")
        if unsure is not None:
            tip.append(f"Uncertainty: mean entropy {unsure.entropy:.3f} nats, low margin {unsure.margin:.3f}, "
                       f"FCN-32s and FCN-8s disagree on {100 * unsure.disagreement:.1f} % of the pixels")
        item.setToolTip("\n".join(tip))
        item.setIcon(self._icons.get(path, QIcon()))

    def _icon_ready(self, path: Path, icon: QIcon) -> None:
        if path not in self._rows or path in self._icons:
            return  # no longer listed, or set_status already gave it one
        self._icons[path] = icon
        self.item(self._rows[path]).setIcon(icon)

    def _icon_failed(self, path: Path, why: str) -> None:
        if path in self._rows:
            self._unreadable[path] = why
            self._refresh(path)

    def _row_changed(self, row: int) -> None:
        if 0 <= row < len(self.paths):
            self.activated_path.emit(self.paths[row])

    def closeEvent(self, event) -> None:  # noqa: N802
        self.cancel_thumbnails()
        super().closeEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3):
            event.ignore()  # variant keys belong to the window
            return
        super().keyPressEvent(event)
