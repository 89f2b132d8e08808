"""The skip-fusion view: one class's scores inside the skip architecture, at their native strides.

Row 1: the three sources (conv7 at stride 32, pool4 at 16, pool3 at 8) and the final scores; row 2:
the fusion steps; row 3: the final scores split into what each source contributes (they sum to the
final). One diverging colour map and colour bar serve every map.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from fcn_core import ScoreMap, SkipFusion

from .panes import ImagePane, PaneGrid

LAYOUT: tuple[tuple[tuple[str, str], ...], ...] = (
    (("score_fr", "conv7 scores (stride 32)"), ("score_pool4c", "pool4 scores (stride 16)"),
     ("score_pool3c", "pool3 scores (stride 8)"), ("final", "final scores")),
    (("upscore2", "upscore2 (conv7 ×2)"), ("fuse_pool4", "fuse_pool4"), ("upscore_pool4", "upscore_pool4 (×2)"),
     ("fuse_pool3", "fuse_pool3")),
    (("c:conv7", "conv7 contributes"), ("c:pool4", "pool4 adds"), ("c:pool3", "pool3 adds"), ("c:sum", "sum of the three")),
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


class SkipView(QWidget):
    classChanged = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.class_box = QComboBox()
        self.class_box.currentIndexChanged.connect(self._class_changed)
        self.title = QLabel()
        self.readout = QLabel("Hover a map to read its values.")
        self.readout.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("Class:"))
        top.addWidget(self.class_box)
        top.addWidget(self.title, 1)
        self.grid = PaneGrid(self, link=False)
        self.grid.hovered.connect(self._hovered)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.grid, 1)
        layout.addWidget(self.readout)
        self.items: dict[str, pg.ImageItem] = {}
        self.maps: dict[str, ScoreMap] = {}
        for r, row in enumerate(LAYOUT):
            for c, (name, title) in enumerate(row):
                pane = self.grid.add_pane(ImagePane(name), r, c, title)
                self.items[name] = pane.image_item
        self.colorbar = pg.ColorBarItem(values=(-1, 1), colorMap=COLORMAP, interactive=False, label="class score")
        self.colorbar.setImageItem(list(self.items.values()))
        self.grid.addItem(self.colorbar, row=0, col=4, rowspan=6)
        self.fusion: SkipFusion | None = None
        self.levels = 1.0

    @property
    def current_class(self) -> int:
        return max(0, self.class_box.currentIndex())

    def set_classes(self, classes: tuple[str, ...], default: int = 1) -> None:
        self.class_box.blockSignals(True)
        self.class_box.clear()
        self.class_box.addItems(list(classes))
        self.class_box.setCurrentIndex(min(default, len(classes) - 1))
        self.class_box.blockSignals(False)

    def set_class(self, cls: int) -> None:
        self.class_box.setCurrentIndex(cls)

    def show_fusion(self, fusion: SkipFusion | None) -> None:
        self.fusion = fusion
        self._redraw()

    def _class_changed(self, index: int) -> None:
        self._redraw()
        self.classChanged.emit(index)

    def _redraw(self) -> None:
        f = self.fusion
        self.maps = {}
        if f is None:
            for item in self.items.values():
                item.clear()
            self.title.setText("")
            return
        cls = self.current_class
        final = f.steps["final"]
        maps = dict(f.steps)
        for name, values in f.contributions.items():
            maps[f"c:{name}"] = ScoreMap(f"c:{name}", 1, values)
        maps["c:sum"] = ScoreMap("c:sum", 1, sum(f.contributions.values()))
        self.maps = maps
        shown = [m.values[cls] for m in maps.values()]
        self.levels = float(max(1e-6, max(np.percentile(np.abs(v), 99.5) for v in shown)))
        for name, item in self.items.items():
            m = maps.get(name)
            if m is None:
                item.clear()
                continue
            item.setImage(np.ascontiguousarray(m.values[cls], dtype=np.float32), autoLevels=False,
                          levels=(-self.levels, self.levels))
            item.setRect(QRectF(*m.extent()))
        h, w = final.values.shape[-2:]
        for pane in self.grid.panes:
            pane.image_shape = (h, w)
        self.colorbar.setLevels((-self.levels, self.levels))
        err = float(np.abs(maps["c:sum"].values - final.values).max())
        self.title.setText(f"FCN-{f.variant}: contributions sum to the final scores (max difference {err:.2g})")
        self.grid.fit_all()

    def _hovered(self, pos) -> None:
        if pos is None or not self.maps:
            return
        cls = self.current_class
        parts = []
        for row in LAYOUT:
            for name, title in row:
                m = self.maps.get(name)
                v = cell_value(m, cls, *pos) if m is not None else None
                if v is not None:
                    parts.append(f"{title.split(' (')[0]}: {v:+.3f}")
        self.readout.setText(f"x {pos[0]:.0f}, y {pos[1]:.0f} — " + "   ".join(parts))
