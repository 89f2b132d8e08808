"""The correction controls: class, brush size, eraser target, preserve-other-labels, accept, export."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QGroupBox, QLabel, QPushButton, QSlider

from ..editing.editor import Editor
from .legend import swatch


MIN_MAX_RADIUS = 100


class EditPanel(QGroupBox):
    """Controls bound to an :class:`Editor`'s tool state."""

    acceptRequested = Signal()

    def __init__(self, editor: Editor, parent=None) -> None:
        super().__init__("Correct (E)", parent)
        self.editor = editor
        self._classes: tuple[str, ...] = ()  # what the class boxes offer
        self.class_box = QComboBox()
        self.size = QSlider(Qt.Orientation.Horizontal)
        self.size.setRange(1, MIN_MAX_RADIUS)
        self.size.setValue(int(editor.state.radius))
        self.void_box = QCheckBox("eraser paints void (255)")
        self.void_box.setToolTip("The eraser marks pixels void (255, ignored by training and scoring) instead of "
                                 "background")
        self.preserve_box = QComboBox()
        for box in (self.class_box, self.preserve_box):  # long class names must not widen the dock for good
            box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            box.setMinimumContentsLength(8)
        self.accept_button = QPushButton("Accept all as verified")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Class", self.class_box)
        form.addRow("Brush", self.size)
        form.addRow("", self.void_box)
        form.addRow("Paint over", self.preserve_box)
        form.addRow(self.accept_button)
        form.addRow(self.status)
        self.class_box.currentIndexChanged.connect(self._class_changed)
        self.size.valueChanged.connect(lambda v: setattr(editor.state, "radius", float(v)))
        self.void_box.toggled.connect(lambda on: setattr(editor.state, "erase_to_void", on))
        self.preserve_box.currentIndexChanged.connect(
            lambda i: setattr(editor.state, "preserve", None if i <= 0 else i - 1))
        self.accept_button.clicked.connect(self.acceptRequested.emit)
        editor.classPicked.connect(self.class_box.setCurrentIndex)
        editor.saveFailed.connect(self.status.setText)

    def set_classes(self, classes: tuple[str, ...], palette: np.ndarray) -> None:
        """Offer ``classes``; the same classes again (a fine-tuned model) keep the person's paint class."""
        if tuple(classes) == self._classes and len(palette) >= len(classes):
            for i, rgb in enumerate(palette[:len(classes)]):
                self.class_box.setItemIcon(i, swatch(rgb))
                self.preserve_box.setItemIcon(i + 1, swatch(rgb))
            return
        self._classes = tuple(classes)
        self.class_box.clear()
        self.preserve_box.clear()
        self.preserve_box.addItem("any class")
        for name, rgb in zip(classes, palette):
            self.class_box.addItem(swatch(rgb), name)
            self.preserve_box.addItem(swatch(rgb), f"only {name}")
        self.class_box.setCurrentIndex(min(1, len(classes) - 1))

    def set_radius(self, radius: float) -> None:
        self.size.setValue(int(max(1, min(self.size.maximum(), radius))))

    def fit_image(self, shape: tuple[int, int]) -> None:
        """Let the brush grow to a tenth of the image's longer side (100 px at least): a 6000×4000 photo gets a
        600 px brush, not the 100 px that is 2 % of its width."""
        self.size.setMaximum(max(MIN_MAX_RADIUS, max(shape) // 10))

    def _class_changed(self, index: int) -> None:
        if index >= 0:
            self.editor.state.cls = index
