"""The export dialog: the format (VOC, COCO or labelme), where the dataset goes (Browse can make a folder),
whether to replace a dataset there, the validation share, only-verified pixels and labelling the uncorrected
images with the model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
    QLineEdit, QPushButton, QWidget,
)

from fcn_core import EXPORT_FORMATS, export_owns

from ..editing.workspace_place import default_export_folder


@dataclass(frozen=True)
class ExportRequest:
    """What the person asked for (the same choices as ``fcn-workbench export``)."""

    out: Path
    overwrite: bool = False
    val_fraction: float = 0.2
    only_verified: bool = False
    predict_missing: bool = False
    dataset_format: str = "voc"
    polygons: bool = False


# what the format menu shows for each of fcn_core's export formats
FORMAT_TEXT = {"voc": "VOC layout (JPEGImages, SegmentationClass, ImageSets)",
               "coco": "COCO instances (images/, annotations/instances_*.json)",
               "labelme": "labelme (image + JSON pairs labelme opens)"}


def format_held(folder: Path) -> str | None:
    """The export format whose files ``folder`` holds (its last export's), or None (missing, empty, mixed)."""
    try:
        names = {p.name for p in folder.iterdir()}
    except OSError:
        return None
    return next((fmt for fmt in EXPORT_FORMATS if names and all(export_owns(n, fmt) for n in names)), None)


def target_problem(out: Path, overwrite: bool, dataset_format: str = "voc") -> str | None:
    """Why ``out`` cannot take the export as asked (None: it can)."""
    if not str(out).strip():
        return "Name the folder the dataset goes to."
    if out.exists() and not out.is_dir():
        return f"{out} is a file, not a folder."
    if not out.exists():
        return None
    try:
        entries = {p.name for p in out.iterdir()}
    except OSError as e:
        return f"{out} cannot be read: {e.strerror or e}."
    dataset = {e for e in entries if export_owns(e, dataset_format)}
    others = entries - dataset
    if others:
        return (f"{out} holds {len(others)} other file(s) or folder(s); choose an empty or new folder "
                "so the dataset is not mixed with them.")
    if dataset and not overwrite:
        return f"{out} already holds a dataset; tick “Replace the dataset there” to replace it."
    return None


class ExportDialog(QDialog):
    """Emits ``requested`` with an :class:`ExportRequest` when the person presses Export."""

    requested = Signal(object)

    def __init__(self, image_folder: Path, can_predict: bool, parent: QWidget | None = None,
                 last: Path | None = None) -> None:
        """``image_folder``: the images' folder; the dataset is proposed where this folder's last export went
        (``last``), else beside it."""
        super().__init__(parent)
        self.setWindowTitle("Export the corrected labels as a dataset")
        self.setMinimumWidth(520)
        self.format = QComboBox()
        for fmt in EXPORT_FORMATS:
            self.format.addItem(FORMAT_TEXT.get(fmt, fmt), fmt)
        self.polygons = QCheckBox("Polygons instead of exact RLE masks (holes and fine detail are lost)")
        self.folder = QLineEdit(str(last or default_export_folder(image_folder)))
        self.browse = QPushButton("Browse…")
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(self.browse)
        self.replace = QCheckBox("Replace the dataset there (if there is one)")
        self.val_share = QDoubleSpinBox()
        self.val_share.setRange(0.0, 0.9)
        self.val_share.setSingleStep(0.05)
        self.val_share.setValue(0.2)
        self.val_share.setSuffix("  of the images go to val")
        self.only_verified = QCheckBox("Only verified pixels (the rest become void, 255)")
        self.predict_missing = QCheckBox("Label uncorrected images with the model's finest head")
        self.predict_missing.setEnabled(can_predict)
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #b3261e")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        form = QFormLayout(self)
        form.addRow("Format", self.format)
        form.addRow("", self.polygons)
        form.addRow("Folder", row)
        form.addRow("", self.replace)
        form.addRow("Validation", self.val_share)
        form.addRow("", self.only_verified)
        form.addRow("", self.predict_missing)
        form.addRow(self.problem)
        form.addRow(self.buttons)
        self.browse.clicked.connect(self._browse)
        self.folder.textChanged.connect(self._check)
        self.replace.toggled.connect(self._check)
        self.format.currentIndexChanged.connect(self._format_changed)
        self.buttons.rejected.connect(self.reject)
        self.export_button.clicked.connect(self._export)
        held = format_held(Path(self.folder.text()))
        if held is not None:  # the folder proposed holds the last export: propose its format too
            self.format.setCurrentIndex(self.format.findData(held))
        self._format_changed()

    def request(self) -> ExportRequest:
        return ExportRequest(Path(self.folder.text().strip()).expanduser(), self.replace.isChecked(),
                             round(self.val_share.value(), 4), self.only_verified.isChecked(),
                             self.predict_missing.isChecked() and self.predict_missing.isEnabled(),
                             self.format.currentData(), self.polygons.isChecked() and self.polygons.isEnabled())

    def _format_changed(self) -> None:
        self.polygons.setEnabled(self.format.currentData() == "coco")  # only COCO has a polygon form
        self.val_share.setEnabled(self.format.currentData() != "labelme")  # a labelme folder has no split files
        self._check()

    def _browse(self) -> None:
        start = Path(self.folder.text().strip() or ".").expanduser()
        chosen = QFileDialog.getExistingDirectory(self, "Export to (Qt's dialog can make a new folder)",
                                                  str(start if start.is_dir() else start.parent))
        if chosen:
            self.folder.setText(chosen)

    def _check(self) -> bool:
        problem = target_problem(self.request().out, self.replace.isChecked(), self.format.currentData()) \
            if self.folder.text().strip() \
            else "Name the folder the dataset goes to."
        if self.problem.text() != (problem or ""):
            self.problem.setText(problem or "")
            self.adjustSize()  # a wrapped sentence needs the height its lines take, or it is clipped
        self.export_button.setEnabled(problem is None)
        return problem is None

    def _export(self) -> None:
        if self._check():
            self.requested.emit(self.request())
            self.accept()
