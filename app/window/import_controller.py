"""File → Import annotations…: other tools' annotations into the current folder's workspace, off the GUI
thread with progress and Cancel; afterwards the list, the saved-corrections view and the editor show them."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject

from fcn_core import import_labels

from .correction_controller import CorrectionController
from ..dialogs.import_dialog import ImportDialog, ImportRequest
from ..services.tasks import JobContext

IMPORT_TASK = "importing"


class ImportController(QObject):
    """Opens the import dialog and runs what it asks for."""

    def __init__(self, corrections: CorrectionController, refresh: Callable[[], None],
                 parent: QObject | None = None) -> None:
        """``refresh``: redraw the current image with what the workspace now holds."""
        super().__init__(parent)
        self.corrections = corrections
        self.refresh = refresh
        self.last: ImportRequest | None = None  # proposed again by the next dialog

    def dialog(self) -> ImportDialog | None:
        folder = self.corrections.folder_with_saved_corrections()  # the editor's last stroke saved first
        if folder is None:
            return None
        dialog = ImportDialog(folder, self.corrections.c.window, self.last)
        dialog.requested.connect(self.run)
        self.corrections.show_dialog(dialog)
        return dialog

    def run(self, request: ImportRequest) -> JobContext:
        """Import into the current folder's workspace; all or nothing, said in the status bar."""
        cc = self.corrections
        c = cc.c
        self.last = request
        c.editor.save()
        folder, meta = c.state.path.parent, c.state.meta
        ws = c.editor.workspace(c.state.path)
        row = c.tasks.start(IMPORT_TASK, lambda: job_ctx.cancel())

        def job(ctx: JobContext):
            return import_labels(request.kind, request.path, folder, meta.classes, meta.colors, request.mapping,
                                 request.verified, request.overwrite, ws,
                                 progress=lambda i, n: ctx.progress(i, n, IMPORT_TASK), cancel=lambda: ctx.cancelled)

        def done(summary) -> None:
            c.tasks.end(row)
            c.editor.close()  # the current image's labels may be new: read them again
            cc.mark_corrected(list(c.files.paths))
            if c.state.editing:
                cc.open_in_editor()
            self.refresh()
            replaced = f", {len(summary.replaced)} replacing earlier corrections" if summary.replaced else ""
            n = len(summary.imported)
            c.status.showMessage(f"Imported labels for {n} image{'s' if n != 1 else ''}{replaced} "
                                 f"({'verified' if summary.verified else 'unverified'}).", 10000)

        def failed(msg: str) -> None:
            c.tasks.end(row)
            c.report(f"Import failed: {msg}")

        def cancelled() -> None:
            c.tasks.end(row)
            c.status.showMessage("Import cancelled; nothing was imported.", 10000)

        job_ctx = c.service.runner.submit(job, done, failed, row.progress, cancelled)
        return job_ctx
