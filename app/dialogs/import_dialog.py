"""The import dialog: which tool's annotations, where they are, an optional class mapping file, and whether the
imported pixels count as verified or may replace existing corrections (``fcn-workbench import``'s choices)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
    QPushButton, QWidget,
)

from fcn_core import IMPORT_KINDS

# what the format menu says for each of fcn_core's import kinds, and whether its path is a file or a folder
KIND_TEXT = {"labelme": ("labelme JSON files (a folder of them, or one file)", "folder"),
             "coco": ("COCO instances (one JSON file)", "file"),
             "voc": ("VOC folder (SegmentationClass palette PNGs)", "folder"),
             "masks": ("Mask PNGs (class values, or class colours)", "folder")}


@dataclass(frozen=True)
class ImportRequest:
    """What the person asked for."""

    kind: str
    path: Path
    mapping: Path | None = None
    verified: bool = False
    overwrite: bool = False


class ImportDialog(QDialog):
    """Emits ``requested`` with an :class:`ImportRequest` when the person presses Import."""

    requested = Signal(object)

    def __init__(self, image_folder: Path, parent: QWidget | None = None, last: ImportRequest | None = None) -> None:
        """``last``: the previous request, proposed again (a refused import is corrected, not retyped)."""
        super().__init__(parent)
        self.setWindowTitle("Import annotations as corrections")
        self.setMinimumWidth(560)
        self.image_folder = image_folder
        self.kind = QComboBox()
        for kind in IMPORT_KINDS:
            self.kind.addItem(KIND_TEXT.get(kind, (kind, "folder"))[0], kind)
        self.path = QLineEdit()
        self.browse = QPushButton("Browse…")
        self.mapping = QLineEdit()
        self.mapping.setPlaceholderText('optional JSON, e.g. {"kitty": "cat"}')
        self.mapping.setToolTip('A JSON object from the names other tools use (or mask values, or "#rrggbb" '
                                'colours) to this model\'s class names, or "void": {"kitty": "cat", "blur": "void"}')
        self.browse_mapping = QPushButton("Browse…")
        self.verified = QCheckBox("Mark the imported pixels verified")
        self.overwrite = QCheckBox("Replace the corrections images already have")
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b3261e")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.import_button = self.buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
        form = QFormLayout(self)
        form.addRow("Images", QLabel(str(image_folder)))
        form.addRow("Format", self.kind)
        form.addRow("Annotations", self._row(self.path, self.browse))
        form.addRow("Class mapping", self._row(self.mapping, self.browse_mapping))
        form.addRow("", self.verified)
        form.addRow("", self.overwrite)
        form.addRow(self.problem)
        form.addRow(self.buttons)
        self.browse.clicked.connect(self._browse)
        self.browse_mapping.clicked.connect(self._browse_mapping)
        self.path.textChanged.connect(self._check)
        self.mapping.textChanged.connect(self._check)
        self.kind.currentIndexChanged.connect(self._check)
        self.buttons.rejected.connect(self.reject)
        self.import_button.clicked.connect(self._import)
        if last is not None:
            self.kind.setCurrentIndex(max(0, self.kind.findData(last.kind)))
            self.path.setText(str(last.path))
            self.mapping.setText(str(last.mapping) if last.mapping else "")
            self.verified.setChecked(last.verified)
            self.overwrite.setChecked(last.overwrite)
        self._check()

    @staticmethod
    def _row(line: QLineEdit, button: QPushButton) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(line, 1)
        row.addWidget(button)
        return row

    def request(self) -> ImportRequest:
        mapping = self.mapping.text().strip()
        return ImportRequest(self.kind.currentData(), Path(self.path.text().strip()).expanduser(),
                             Path(mapping).expanduser() if mapping else None, self.verified.isChecked(),
                             self.overwrite.isChecked())

    def _browse(self) -> None:
        kind = self.kind.currentData()
        start = str(Path(self.path.text().strip()).expanduser().parent if self.path.text().strip()
                    else self.image_folder)
        if KIND_TEXT.get(kind, ("", "folder"))[1] == "file":
            chosen, _ = QFileDialog.getOpenFileName(self, "COCO instances file", start, "JSON (*.json)")
        else:
            chosen = QFileDialog.getExistingDirectory(self, "Folder of annotations", start)
        if chosen:
            self.path.setText(chosen)

    def _browse_mapping(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self, "Class mapping (JSON)", str(self.image_folder), "JSON (*.json)")
        if chosen:
            self.mapping.setText(chosen)

    def _problem(self) -> str | None:
        r = self.request()
        if not self.path.text().strip():
            return ""  # nothing typed yet: Import waits, with nothing to say
        if not r.path.exists():
            return f"{r.path} does not exist."
        if KIND_TEXT.get(r.kind, ("", "folder"))[1] == "file" and not r.path.is_file():
            return f"{r.path} is a folder; a COCO import reads one instances JSON file."
        if r.mapping is not None and not r.mapping.is_file():
            return f"The class mapping {r.mapping} is not a file."
        return None

    def _check(self) -> bool:
        problem = self._problem()
        if self.problem.text() != (problem or ""):
            self.problem.setText(problem or "")
            self.adjustSize()  # a wrapped sentence needs the height its lines take
        self.import_button.setEnabled(problem is None)
        return problem is None

    def _import(self) -> None:
        if self._check():
            self.requested.emit(self.request())
            self.accept()
