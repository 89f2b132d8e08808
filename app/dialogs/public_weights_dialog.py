"""Model → Get public weights…: the published FCN nets, downloaded into the cache off the GUI thread (progress
bar, Cancel), then loaded the way Load weights loads a file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QProgressBar, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from fcn_core.weights import (MIRROR_ENV, DownloadCancelled, Fetched, PublicWeights, cached_weights,
                              fetch_public_weights, public_weights, weights_cache_dir)

from ..services.tasks import Cancelled, JobContext, TaskRunner

COLUMNS = ("Name", "Net", "Format", "Size", "In the cache")


class PublicWeightsDialog(QDialog):
    """Lists the catalogue; Download fetches the selected file, Load (offered once it is in the cache) emits
    ``load_requested(path, at_once)``."""

    load_requested = Signal(object, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Get public weights")
        self.setMinimumWidth(640)
        self.entries: tuple[PublicWeights, ...] = public_weights()
        self.runner = TaskRunner(self)  # its own thread: the model's stays free while a file downloads
        self.ctx: JobContext | None = None
        self.intro = QLabel("")
        self.intro.setWordWrap(True)
        self.table = QTableWidget(len(self.entries), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.mirror = QLineEdit(os.environ.get(MIRROR_ENV, ""))
        self.mirror.setPlaceholderText("optional: a URL or folder that holds the files under their names")
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.download_button = QPushButton("Download")
        self.load_button = QPushButton("Load")
        self.close_button = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.download_button, self.load_button, self.close_button):
            buttons.addWidget(b)
        form = QFormLayout()
        form.addRow("Mirror", self.mirror)
        body = QVBoxLayout(self)
        body.addWidget(self.intro)
        body.addWidget(self.table)
        body.addLayout(form)
        body.addWidget(self.progress)
        body.addWidget(self.label)
        body.addLayout(buttons)
        self.table.itemSelectionChanged.connect(self._selected)
        self.download_button.clicked.connect(self.download)
        self.load_button.clicked.connect(self.load)
        self.close_button.clicked.connect(self._close_or_cancel)
        if parent is not None:
            parent.installEventFilter(self)  # the window closing cancels a download
        self.refresh()
        self.table.selectRow(0)

    def selected(self) -> PublicWeights | None:
        rows = self.table.selectionModel().selectedRows()
        return self.entries[rows[0].row()] if rows else None

    def refresh(self) -> None:
        """Fill the table, with whether each file is in the cache now."""
        self.intro.setText("The published VOC nets (21 classes): torchfcn's .pth files, checked against their md5, "
                           f"and the authors' Caffe files. They are kept in {weights_cache_dir()}.")
        for row, e in enumerate(self.entries):
            cached = "yes" if cached_weights(e).is_file() else "—"
            for col, text in enumerate((e.name, e.net, e.format_name, e.size_text, cached)):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{e.note}; {'md5 ' + e.md5 if e.md5 else 'no checksum published'}\n{e.url}")
                if col == 4:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(row, col, item)
        self._selected()

    def _selected(self) -> None:
        e = self.selected()
        cached = e is not None and cached_weights(e).is_file()
        running = self.ctx is not None
        self.download_button.setEnabled(e is not None and not cached and not running)
        self.load_button.setEnabled(cached and not running)
        (self.load_button if cached else self.download_button).setDefault(True)

    def download(self) -> None:
        """Fetch the selected file off the GUI thread (the Download button)."""
        e = self.selected()
        if e is None or self.ctx is not None:
            return
        mirror = self.mirror.text().strip() or None

        def job(ctx: JobContext) -> Fetched:
            def progress(done: int, total: int | None) -> None:  # KiB: a Qt int holds 2 GiB at most
                ctx.progress(done // 1024, (total or 0) // 1024)

            try:
                return fetch_public_weights(e, mirror=mirror, progress=progress, cancelled=lambda: ctx.cancelled)
            except DownloadCancelled:
                raise Cancelled() from None

        self.progress.setRange(0, 0)  # busy until the server says the size
        self.progress.setVisible(True)
        self.label.setText(f"Downloading {e.file}…")
        self.close_button.setText("Cancel")
        self.ctx = self.runner.submit(job, self._done, self._failed, self._progress, self._cancelled)
        self._selected()

    def _progress(self, done_kib: int, total_kib: int, _text: str) -> None:
        if total_kib:
            self.progress.setRange(0, total_kib)
            self.progress.setValue(min(done_kib, total_kib))
        self.label.setText(f"Downloading: {done_kib / 1000:.1f}" + (f" of {total_kib / 1000:.1f} MB" if total_kib else " MB"))

    def _done(self, fetched: Fetched) -> None:
        self._ended()
        check = "md5 checked" if fetched.checked else f"no checksum is published; sha256 {fetched.sha256[:16]}… recorded"
        self.label.setText(f"Saved {fetched.path} ({fetched.size / 1e6:.1f} MB, {check}). Load it now?")
        self.refresh()
        self._select(fetched.name)

    def _failed(self, message: str) -> None:
        self._ended()
        self.label.setText(f"The download failed: {message.rstrip('.')}.")

    def _cancelled(self) -> None:
        self._ended()
        self.label.setText("Cancelled; what came stays in the cache folder, and Download resumes from there.")

    def _ended(self) -> None:
        self.ctx = None
        self.progress.setVisible(False)
        self.close_button.setText("Close")
        self._selected()

    def _select(self, name: str) -> None:
        for row, e in enumerate(self.entries):
            if e.name == name:
                self.table.selectRow(row)

    def load(self) -> None:
        """Load the selected file, as Load weights would (the Load button)."""
        e = self.selected()
        if e is not None and cached_weights(e).is_file() and self.ctx is None:
            self.load_requested.emit(cached_weights(e), e.at_once)
            self.accept()

    def _close_or_cancel(self) -> None:
        if self.ctx is not None:
            self.ctx.cancel()
        else:
            self.reject()

    def reject(self) -> None:  # Escape and the title bar's close button too: a download under way stops
        if self.ctx is not None:
            self.ctx.cancel()
        super().reject()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Close and self.ctx is not None:
            self.ctx.cancel()
        return False


def open_public_weights(window: QWidget, load: Callable[[list[Path], bool], None]) -> PublicWeightsDialog:
    """Show the window's one public-weights dialog (made on first use); Load calls ``load([path], at_once)``."""
    dialog = window.findChild(PublicWeightsDialog)
    if dialog is None:
        dialog = PublicWeightsDialog(window)
        dialog.load_requested.connect(lambda path, at_once: load([Path(path)], at_once))
    if dialog.ctx is None:
        dialog.refresh()
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
