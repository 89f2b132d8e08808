"""The status bar's long tasks (segmenting a folder, exporting): each has its own progress bar and Cancel
button, so a Cancel stops the task it sits beside and nothing else, and each row goes when its task ends."""

from __future__ import annotations

from typing import Callable

from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QWidget

FOLDER_TASK = "segmenting"  # the window's task names (what each progress bar says until its first report)
EXPORT_TASK = "exporting"
OPEN_TASK = "opening"  # reading and segmenting the image just chosen


class TaskRow(QWidget):
    """One running task: a progress bar (busy until the first report) and its Cancel button."""

    def __init__(self, name: str, cancel: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.bar = QProgressBar()
        self.bar.setMinimumWidth(200)
        self.bar.setMaximumWidth(260)
        self.bar.setRange(0, 0)
        self.bar.setFormat(name)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip(f"Stop {name}")
        self.cancel_button.clicked.connect(self._cancel)
        self._cancel_fn = cancel
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)

    def progress(self, done: int, total: int, text: str = "") -> None:
        self.bar.setRange(0, max(total, 0))
        self.bar.setValue(done)
        self.bar.setFormat(f"{self.name} {done}/{total}" + (f" {text}" if text and text != self.name else ""))

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.cancel_button.setText("Cancelling…")
        self._cancel_fn()


class TaskBar(QWidget):
    """A row of :class:`TaskRow`, one per running task, for the status bar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.rows: list[TaskRow] = []
        self.setVisible(False)

    def start(self, name: str, cancel: Callable[[], None]) -> TaskRow:
        """Show a new task; call :meth:`end` with the row when it finishes, fails or is cancelled."""
        row = TaskRow(name, cancel, self)
        self.rows.append(row)
        self._layout.addWidget(row)
        self.setVisible(True)
        return row

    def end(self, row: TaskRow | None) -> None:
        if row is None or row not in self.rows:
            return
        self.rows.remove(row)
        self._layout.removeWidget(row)
        row.deleteLater()
        self.setVisible(bool(self.rows))

    def row(self, name: str) -> TaskRow | None:
        """The running task called ``name`` (the newest, if several)."""
        return next((r for r in reversed(self.rows) if r.name == name), None)
