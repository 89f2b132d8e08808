"""The skip-fusion view: one class's scores inside the skip architecture, at their native strides.

Row 1: the three sources (conv7 at stride 32, pool4 at 16, pool3 at 8) and the final scores; row 2:
the fusion steps; row 3: the final scores split into what each source contributes (they sum to the
final). One diverging colour map and colour bar serve every map.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from fcn_core import ScoreMap, SkipFusion

from .panes import ImagePane, PaneGrid

HOVER_HINT = "Hover a map to read its values."
# (map, pane title, name in the readout); titles are short so that four columns fit a 1024×700 window
LAYOUT: tuple[tuple[tuple[str, str, str], ...], ...] = (
    (("score_fr", "conv7 · stride 32", "conv7 scores"), ("score_pool4c", "pool4 · stride 16", "pool4 scores"),
     ("score_pool3c", "pool3 · stride 8", "pool3 scores"), ("final", "final scores", "final")),
    (("upscore2", "upscore2 (2×)", "upscore2"), ("fuse_pool4", "fuse_pool4", "fuse_pool4"),
     ("upscore_pool4", "upscore_pool4", "upscore_pool4"), ("fuse_pool3", "fuse_pool3", "fuse_pool3")),
    (("c:conv7", "conv7 part", "conv7 part"), ("c:pool4", "pool4 part", "pool4 part"),
     ("c:pool3", "pool3 part", "pool3 part"), ("c:sum", "sum of parts", "sum")),
)
COLORMAP = pg.colormap.get("CET-D1")


def cell_value(m: ScoreMap, cls: int, x: float, y: float) -> float | None:
    """The value of map ``m`` for class ``cls`` in the cell over image position (x, y)."""
    h, w = m.values.shape[-2:]
    if m.stride == 1:
        i, j = int(np.floor(y)), int(np.floor(x))
    else:
        i, j = int(round((y - m.origin) / m.stride)), int(round((x - m.origin) / m.stride))
    if 0 <= i < h and 0 <= j < w:
        return float(m.values[cls, i, j])
    return None


VARIANT_NOTES = {
    "32s": "FCN-32s has no skip connections: its final scores are conv7's, upsampled ×32. "
           "Pick FCN-16s or FCN-8s to see pool4 and pool3 join in.",
    "16s": "FCN-16s fuses pool4 only; FCN-8s also adds pool3.",
}
TITLE_PT = "8pt"  # small titles so that four columns and the colour bar fit a 1024×700 window


class SkipView(QWidget):
    """Shows the panels the variant has (the others are left out, with a note saying why)."""

    classChanged = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._class_chosen = False
        self.class_box = QComboBox()
        self.class_box.currentIndexChanged.connect(self._class_changed)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setVisible(False)
        self.readout = QLabel(HOVER_HINT)
        self.readout.setWordWrap(True)
        self.readout.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # a fixed room for the longest reading (three lines in a 1024-px window, four in a narrower one), so
        # the maps do not jump as the mouse enters and leaves them
        self.readout.setFixedHeight(4 * self.readout.fontMetrics().lineSpacing() + 4)
        top = QHBoxLayout()
        top.addWidget(QLabel("Class:"))
        top.addWidget(self.class_box)
        top.addWidget(self.title, 1)
        self.grid = PaneGrid(self, link=False)
        self.grid.setMinimumSize(200, 150)
        self.grid.hovered.connect(self._hovered)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.note)
        layout.addWidget(self.grid, 1)
        layout.addWidget(self.readout)
        self.items: dict[str, pg.ImageItem] = {}
        self.panes: dict[str, ImagePane] = {}
        self.maps: dict[str, ScoreMap] = {}
        self.colorbar = pg.ColorBarItem(values=(-1, 1), colorMap=COLORMAP, interactive=False, label="class score")
        self.shown: tuple[str, ...] = ()
        self._build(tuple(name for row in LAYOUT for name, _, _ in row))
        self.fusion: SkipFusion | None = None
        self.levels = 1.0
        self._hover: tuple[float, float] | None = None

    def _build(self, names: tuple[str, ...]) -> None:
        """Lay out the panels in ``names`` (in LAYOUT's order, rows without any left out) and the colour bar."""
        if names == self.shown:
            return
        self.shown = names
        self.grid.clear()
        self.grid.panes = []
        self.items, self.panes = {}, {}
        rows = [[(n, t) for n, t, _ in row if n in names] for row in LAYOUT]
        rows = [row for row in rows if row]
        columns = max((len(row) for row in rows), default=1)
        for r, row in enumerate(rows):
            for c, (name, title) in enumerate(row):
                pane = self.grid.add_pane(ImagePane(name), r, c, title, size=TITLE_PT)
                self.items[name] = pane.image_item
                self.panes[name] = pane
        self.grid.equal_columns(columns)
        self.colorbar.setImageItem(list(self.items.values()))
        self.grid.addItem(self.colorbar, row=0, col=columns, rowspan=2 * len(rows))

    @property
    def current_class(self) -> int:
        return max(0, self.class_box.currentIndex())

    def set_classes(self, classes: tuple[str, ...], default: int = 1) -> None:
        """Offer ``classes``; the same classes again (a fine-tuned model) keep the class the person picked."""
        if tuple(classes) == tuple(self.class_box.itemText(i) for i in range(self.class_box.count())):
            return
        self.class_box.blockSignals(True)
        self.class_box.clear()
        self.class_box.addItems(list(classes))
        self.class_box.setCurrentIndex(min(default, len(classes) - 1))
        self.class_box.blockSignals(False)
        self._class_chosen = False  # a new model: no class picked by the person yet

    def _suggest_class(self, fractions: np.ndarray) -> None:
        """Show the class that covers most of the image apart from class 0 (the background), unless the
        person picked a class: a class the image does not have shows only negative scores."""
        if self._class_chosen or len(fractions) < 2 or not np.any(fractions[1:] > 0):
            return
        self.class_box.blockSignals(True)
        self.class_box.setCurrentIndex(1 + int(np.argmax(fractions[1:])))
        self.class_box.blockSignals(False)

    def show_refusal(self, sentence: str) -> None:
        """No maps, and why (an image the skip fusion refuses), pointing to the views that show it."""
        self.show_fusion(None)
        self.grid.setVisible(False)  # empty panels and a colour bar would suggest maps are on their way
        self.readout.setVisible(False)
        self.title.setText(sentence[:1].upper() + sentence[1:] + ". The single and compare views show it.")

    def show_waiting(self, sentence: str) -> None:
        """No maps yet, and why (the image is being segmented, or its segmenting was stopped)."""
        self.show_fusion(None)
        self.title.setText(sentence)

    def set_class(self, cls: int) -> None:
        self.class_box.setCurrentIndex(cls)

    def show_fusion(self, fusion: SkipFusion | None, class_fractions: np.ndarray | None = None) -> None:
        """Draw ``fusion``'s maps (None: none); ``class_fractions`` of its image choose the class shown
        until the person picks one."""
        self.grid.setVisible(True)
        self.readout.setVisible(True)
        if class_fractions is not None:
            self._suggest_class(class_fractions)
        self.fusion = fusion
        self._redraw()

    def _class_changed(self, index: int) -> None:
        self._class_chosen = True
        self._redraw()
        self.classChanged.emit(index)

    def _redraw(self) -> None:
        f = self.fusion
        self.maps = {}
        if f is None:
            for item in self.items.values():
                item.clear()
            self.title.setText("")
            self.readout.setText(HOVER_HINT)
            return
        cls = self.current_class
        final = f.steps["final"]
        maps = dict(f.steps)
        for name, values in f.contributions.items():
            maps[f"c:{name}"] = ScoreMap(f"c:{name}", 1, values)
        maps["c:sum"] = ScoreMap("c:sum", 1, sum(f.contributions.values()))
        self.maps = maps
        self._build(tuple(name for row in LAYOUT for name, _, _ in row if name in maps))
        note = VARIANT_NOTES.get(f.variant, "")
        self.note.setText(note)
        self.note.setVisible(bool(note))
        shown = [m.values[cls] for m in maps.values()]
        self.levels = float(max(1e-6, max(np.percentile(np.abs(v), 99.5) for v in shown)))
        for name, item in self.items.items():
            m = maps[name]
            item.setImage(np.ascontiguousarray(m.values[cls], dtype=np.float32), autoLevels=False,
                          levels=(-self.levels, self.levels))
            item.setRect(QRectF(*m.extent()))
        h, w = final.values.shape[-2:]
        for pane in self.grid.panes:
            pane.image_shape = (h, w)
        self.colorbar.setLevels((-self.levels, self.levels))
        err = float(np.abs(maps["c:sum"].values - final.values).max())
        name = self.class_box.currentText()
        self.title.setText(f"FCN-{f.variant}, class “{name}”: contributions sum to the final scores "
                           f"(max difference {err:.2g})")
        self.grid.fit_all()
        self._read(self._hover)  # the readout follows the class and the image, not only the mouse

    def _hovered(self, pos) -> None:
        self._hover = pos
        self._read(pos)

    def _read(self, pos) -> None:
        """The values under ``pos`` (image pixels); off the image (the maps' edge cells reach past it) or
        with the mouse gone, the hint."""
        final = self.maps.get("final")
        h, w = final.values.shape[-2:] if final is not None else (0, 0)
        if pos is None or not (0 <= pos[0] < w and 0 <= pos[1] < h):
            self.readout.setText(HOVER_HINT)
            return
        cls = self.current_class
        parts = []
        for row in LAYOUT:
            for name, _title, read_name in row:
                m = self.maps.get(name)
                v = cell_value(m, cls, *pos) if m is not None else None
                if v is not None:
                    parts.append(f"{read_name}: {v:+.3f}")
        self.readout.setText(f"“{self.class_box.currentText()}” at x {pos[0]:.0f}, y {pos[1]:.0f} — "
                             + "   ".join(parts))
