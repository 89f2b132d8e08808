"""The window's correction workflow: edit mode, workspace, export and fine-tuning (mixed into MainWindow)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from fcn_core.storage.export import export_dataset

from .actions import set_edit_shortcuts
from .finetune_dialog import FineTuneDialog
from .task_bar import EXPORT_TASK
from .tasks import JobContext


class CorrectingMixin:
    """Needs the window's editor, single view, service, actions, result, meta, palette and display."""

    def set_editing(self, on: bool) -> None:
        """Edit mode: the single view shows the corrected labels and the mouse paints."""
        self.editing = on
        self.actions.plain["edit"].setChecked(on)
        set_edit_shortcuts(self.actions, on)
        self.edit_panel.setVisible(on)
        self.single.pane.image_item.handler = self.editor if on else None
        if on:
            self._set_view("single")
            self._open_in_editor()
        else:
            self.editor.close()
            self.single.show_brush(None, None)
            self.single.show_labels(None, self.palette, self.display)
        self._render()

    def _labels_changed(self, rect) -> None:
        doc = self.editor.doc
        if self.editing and doc is not None and self.view == "single" and self.result is not None \
                and self.editor.path == self.result.path:
            self.single.refresh_labels(rect, self.display.outline, doc.labels, self.palette,
                                       replace(self.display, mode="labels"))

    def _open_in_editor(self) -> None:
        r = self.result
        if r is None or self.meta is None or self.editor.path == r.path:
            return
        try:
            self.editor.open(r.path, r.image, r.predictions, self.meta.classes, self.palette, self.variant)
        except ValueError as e:
            self.show_error(str(e))

    def _choose_workspace(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save corrections in (workspace folder)")
        if folder:
            self.set_workspace(Path(folder))

    def set_workspace(self, folder: Path | None) -> None:
        """Save corrections in ``folder`` (None: beside the images); reopens the current image from there."""
        self.editor.set_workspace_root(folder)  # edits not saved yet go to the new folder
        self.editor.close()
        if self.editing:
            self._open_in_editor()
            self._render()

    def _pick_class(self, cls: int) -> None:
        if self.meta is not None and cls < self.meta.n_class:
            self.edit_panel.class_box.setCurrentIndex(cls)

    def _export_dialog(self) -> None:
        if self.current_path is None or self.meta is None:
            self.show_error("Open and correct some images first.")
            return
        self.editor.save()
        out = QFileDialog.getExistingDirectory(self, "Export the corrected labels to (an empty folder)")
        if out:
            self.export_to(Path(out))

    def export_to(self, out: Path, only_verified: bool = False) -> JobContext:
        """Export the current folder's corrections off the GUI thread; progress and Cancel in the status bar.

        The export lands in ``out`` only when it is complete: a cancel or a failure leaves ``out`` as it was.
        """
        folder, meta = self.current_path.parent, self.meta
        ws = self.editor.workspace(self.current_path)
        row = self.tasks.start(EXPORT_TASK, lambda: job_ctx.cancel())

        def job(ctx: JobContext):
            return export_dataset(folder, out, meta.classes, meta.colors, only_verified=only_verified,
                                  progress=lambda i, n: ctx.progress(i, n, "exporting"), workspace=ws,
                                  cancel=lambda: ctx.cancelled)

        def ended(message: str) -> None:
            self.tasks.end(row)
            if message:
                self.statusBar().showMessage(message, 10000)

        def failed(msg: str) -> None:
            ended("")
            self.show_error(f"Export failed: {msg}")

        job_ctx = self.service.runner.submit(
            job,
            lambda summary: ended(f"Exported {summary.written} images ({len(summary.train)} train, "
                                  f"{len(summary.val)} val) to {out}"),
            failed, row.progress,
            lambda: ended(f"Export cancelled; nothing was written to {out}."))
        return job_ctx

    def finetune(self, iterations: int = 100) -> FineTuneDialog | None:
        """Fine-tune the loaded model on this folder's corrections; load the result when it is done."""
        if self.current_path is None or self.service.engine is None:
            self.show_error("Open and correct some images first.")
            return None
        self.editor.save()
        dialog = FineTuneDialog(self.service, self.current_path.parent, iterations,
                                self.editor.workspace(self.current_path), self)
        dialog.finished_with.connect(lambda result: self.load_model([result.checkpoint]))
        dialog.show()
        return dialog
