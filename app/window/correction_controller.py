"""The correction workflow: edit mode, the workspace, export and fine-tuning, between the window's state,
the editor, the views and the model service."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QDialog, QFileDialog, QStatusBar, QWidget

from fcn_core import class_fractions, export_dataset, export_said

from .actions import Actions, set_edit_shortcuts
from ..views.edit_panel import EditPanel
from ..editing.editor import Editor
from ..dialogs.export_dialog import ExportDialog, ExportRequest
from ..views.file_list import FileList
from ..views.legend import ClassLegend
from ..services.model_service import ModelService
from ..views.single_view import SingleView
from ..views.task_bar import EXPORT_TASK, TaskBar
from ..services.tasks import JobContext
from .window_settings import WindowSettings
from .window_state import WindowState

LEGEND_DELAY_MS = 250  # the legend's class shares follow strokes at most this often (a count over 24 MP takes ~0.1 s)


@dataclass
class Collaborators:
    """What the controller works with; the window builds them and hands them over."""

    state: WindowState
    editor: Editor
    service: ModelService
    actions: Actions
    single: SingleView
    edit_panel: EditPanel
    legend: ClassLegend
    files: FileList
    tasks: TaskBar
    status: QStatusBar
    window: QWidget                     # the parent of dialogs
    report: Callable[[str], None]       # tell the person about an error, without blocking
    load_model: Callable[[list[Path]], None]  # load weights on the chosen device
    settings: WindowSettings            # where each image folder's last export folder is remembered
    dismiss: Callable[[str], None]      # close the reports still open that begin so (what they said has changed)


class CorrectionController(QObject):
    """Runs edit mode: opens the current image's labels, keeps the single view and the legend on them, saves,
    marks corrected images in the list and exports (fine-tuning: :mod:`.finetune_controller`)."""

    def __init__(self, c: Collaborators, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.c = c
        self.dialogs: list[QWidget] = []  # kept alive while shown
        self._legend_timer = QTimer(self)
        self._legend_timer.setSingleShot(True)
        self._legend_timer.setInterval(LEGEND_DELAY_MS)
        self._legend_timer.timeout.connect(self.update_legend)
        s, e = c.state, c.editor
        s.editingChanged.connect(self._editing_changed)
        s.resultChanged.connect(self._result_changed)
        s.variantChanged.connect(self._variant_changed)
        s.displayChanged.connect(lambda _d: self.show_labels() if s.editing else None)
        e.changed.connect(self._labels_changed)
        e.saved.connect(self._saved)
        e.session.opened.connect(self._opened)
        e.saveFailed.connect(c.report)

    # edit mode -----------------------------------------------------------------------------------
    @property
    def editing_current(self) -> bool:
        """Edit mode is on and the document is the current image's."""
        s, e = self.c.state, self.c.editor
        return s.editing and e.doc is not None and s.result is not None and e.path == s.result.path

    def _editing_changed(self, on: bool) -> None:
        c = self.c
        c.actions.plain["edit"].setChecked(on)
        set_edit_shortcuts(c.actions, on)
        c.edit_panel.setVisible(on)
        c.single.pane.image_item.handler = c.editor if on else None
        if on:
            c.state.set_view("single")
            self.open_in_editor()
        else:
            c.editor.close()
            c.single.show_brush(None, None)
            c.single.show_labels(None, self.palette, c.state.display)

    @property
    def palette(self):
        meta = self.c.state.meta
        return meta.palette() if meta is not None else None

    def _result_changed(self, result) -> None:
        """Edit the image on screen, never another: the moment another image (or none) is shown, the open
        document is saved and closed, so that a stroke made while the next image is read or segmented (or
        after that was cancelled) cannot land in the previous image's labels."""
        c = self.c
        if not c.state.editing:
            return
        if c.editor.path is not None and (result is None or result.path != c.editor.path):
            c.editor.close()
            c.single.show_labels(None, self.palette, c.state.display)
        if result is None and c.state.path is not None:
            c.editor.refusal = (f"{c.state.path.name} is not segmented yet: painting starts when its labels are shown "
                                "(a cancelled image is segmented again when you open it again).")
        self.open_in_editor()

    def open_in_editor(self) -> None:
        """Open the current image's labels (its saved corrections, mapped to the model's classes by name, or
        the prediction); a refusal is said in one sentence and leaves edit mode on an empty document."""
        c = self.c
        r, meta = c.state.result, c.state.meta
        if r is None or meta is None or c.editor.path == r.path:
            return
        try:
            c.editor.open(r.path, r.image, r.predictions, meta.classes, meta.palette(), c.state.variant)
        except ValueError as e:
            c.editor.refusal = f"{r.path.name} is not edited: {e}"
            c.edit_panel.status.setText(str(e))
            c.report(str(e))
            return
        c.editor.refusal = ""
        c.edit_panel.fit_image(r.image.shape[:2])
        mapped = c.editor.session.mapped_from
        if mapped is not None:
            c.status.showMessage(f"The saved labels of {r.path.name} were made with other classes; they are shown "
                                 "with this model's classes of the same names.", 10000)
        self.show_labels()

    def show_labels(self) -> None:
        """Draw the document over the image (labels mode: edits are always shown as classes)."""
        c = self.c
        if not self.editing_current:
            return
        c.single.show_labels(c.editor.doc.labels, self.palette, replace(c.state.display, mode="labels"))
        self.update_legend()

    def _labels_changed(self, rect) -> None:
        c = self.c
        if self.editing_current and c.state.view == "single":
            c.single.refresh_labels(rect, c.state.display.outline, c.editor.doc.labels, self.palette,
                                    replace(c.state.display, mode="labels"))
            self._legend_timer.start()

    def update_legend(self) -> None:
        """In edit mode the legend counts the labels on screen, not the prediction."""
        c = self.c
        if self.editing_current and c.state.meta is not None:
            c.legend.set_fractions(class_fractions(c.editor.doc.labels, c.state.meta.n_class))

    def _variant_changed(self, variant: str) -> None:
        c = self.c
        c.editor.state.source_variant = variant  # "take variant here" copies the chosen variant
        c.actions.tools["take_variant"].setText(f"&Take FCN-{variant} here")

    def _opened(self, path: Path | None) -> None:
        self.c.edit_panel.status.setText(f"editing {path.name}" if path is not None else "")

    def _saved(self, path: Path) -> None:
        c = self.c
        doc = c.editor.doc
        if path == c.editor.path:
            c.edit_panel.status.setText(f"saved {path.name}")
            if not c.editor.workspace(path).has(path):  # every stroke undone: no correction any more
                c.files.set_correction(path, None)
            elif doc is not None:
                c.files.set_correction(path, float(doc.verified.mean()) if doc.verified.size else 0.0)
        else:  # a kept document landed at last
            c.files.set_correction(path, c.editor.workspace(path).verified_share(path))

    def mark_corrected(self, paths: list[Path]) -> None:
        """Mark the listed images that have saved corrections (and their verified share)."""
        for p in paths:
            share = self.c.editor.workspace(p).verified_share(p)
            self.c.files.set_correction(p, share)

    def pick_class(self, cls: int) -> None:
        meta = self.c.state.meta
        if meta is not None and cls < meta.n_class:
            self.c.edit_panel.class_box.setCurrentIndex(cls)

    # workspace -----------------------------------------------------------------------------------
    def choose_workspace(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.c.window, "Save corrections in (workspace folder)")
        if folder:
            self.set_workspace(Path(folder))

    def set_workspace(self, folder: Path | None) -> None:
        """Save corrections in ``folder`` (None: beside the images); reopens the current image from there."""
        c = self.c
        c.editor.set_workspace_root(folder)  # edits not saved yet go to the new folder
        c.editor.close()
        self.mark_corrected(list(c.files.paths))
        if c.state.editing:
            self.open_in_editor()

    def folder_with_saved_corrections(self, needs_model: bool = False) -> Path | None:
        """The current image's folder, its corrections saved first; None (and a sentence) without an image or
        model. What the export and the fine-tune start from."""
        c = self.c
        if c.state.path is None or c.state.meta is None or (needs_model and c.service.engine is None):
            c.report("Open and correct some images first.")
            return None
        c.editor.save()
        return c.state.path.parent

    # export --------------------------------------------------------------------------------------
    def export_dialog(self) -> ExportDialog | None:
        c = self.c
        folder = self.folder_with_saved_corrections()
        if folder is None:
            return None
        dialog = ExportDialog(folder, c.service.engine is not None, c.window, c.settings.last_export(folder))
        dialog.requested.connect(self.export)
        self.show_dialog(dialog)
        return dialog

    def show_dialog(self, dialog: QDialog) -> None:
        """Show a non-modal dialog, kept alive while shown; once it is gone the window has the keys again
        (Qt leaves a hidden dialog the active window on some platforms)."""
        dialog.finished.connect(lambda _result: self.c.window.activateWindow())
        dialog.setModal(False)
        dialog.show()
        self.dialogs = [d for d in self.dialogs if d.isVisible()] + [dialog]

    def export(self, request: ExportRequest) -> JobContext:
        """Export the current folder's corrections off the GUI thread; progress and Cancel in the status bar.

        The export lands in ``request.out`` only when it is complete: a cancel or a failure leaves it as it was.
        """
        c = self.c
        c.editor.save()
        folder, meta, out = c.state.path.parent, c.state.meta, request.out
        c.settings.set_last_export(folder, out)  # proposed again next time
        ws = c.editor.workspace(c.state.path)
        engine = c.service.engine if request.predict_missing else None
        finest = meta.variant_names[-1]
        predict = (lambda image: engine.segment(image, finest).labels) if engine is not None else None
        row = c.tasks.start(EXPORT_TASK, lambda: job_ctx.cancel())

        def job(ctx: JobContext):
            return export_dataset(folder, out, meta.classes, meta.colors, val_fraction=request.val_fraction,
                                  predict=predict, only_verified=request.only_verified, overwrite=request.overwrite,
                                  progress=lambda i, n: ctx.progress(i, n, "exporting"), workspace=ws,
                                  cancel=lambda: ctx.cancelled, dataset_format=request.dataset_format,
                                  polygons=request.polygons)

        def ended(message: str) -> None:
            c.tasks.end(row)
            if message:
                c.status.showMessage(message, 10000)

        def failed(msg: str) -> None:
            ended("")
            c.report(f"Export failed: {msg}")

        job_ctx = c.service.runner.submit(
            job,
            lambda summary: ended("E" + export_said(summary, out, request.dataset_format)[1:]),
            failed, row.progress,
            lambda: ended(f"Export cancelled; nothing was written to {out}."))
        return job_ctx
