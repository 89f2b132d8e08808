"""The Display dock's contents: overlay mode, opacity, outlines, the class legend, the edit panel, the model."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QSlider, QVBoxLayout, QWidget

from .edit_panel import EditPanel
from ..editing.editor import Editor
from .legend import ClassLegend


class DisplayPanel(QWidget):
    """The controls of how the answer is drawn; the edit panel shows in edit mode only."""

    def __init__(self, editor: Editor, opacity: float, model_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        form = QFormLayout()
        self.mode_box = QComboBox()
        self.mode_box.addItems(["class labels", "confidence (softmax margin)", "entropy"])
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(int(opacity * 100))
        self.outline_box = QCheckBox("outlines only")
        form.addRow("Overlay", self.mode_box)
        form.addRow("Opacity", self.opacity)
        form.addRow("", self.outline_box)
        self.legend = ClassLegend()
        self.legend_title = QLabel("Classes (uncheck to hide)")
        self.model_label = QLabel(model_text)
        self.model_label.setWordWrap(True)
        self.edit_panel = EditPanel(editor)
        self.edit_panel.setVisible(False)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.legend_title)
        layout.addWidget(self.legend, 1)
        layout.addWidget(self.edit_panel)
        layout.addWidget(self.model_label)
