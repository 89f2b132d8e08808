"""The Workbench window: builds the views, docks, menus and toolbars (:mod:`.window_layout`,
:mod:`.window_bars`) and wires them to the window's state, the model service and the correction controller
(:mod:`.window_wiring`); opening images is :mod:`.image_opening`'s. It holds no state of its own (see
:mod:`.window_state`)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox

from fcn_core import FINETUNE_ITERATIONS, ModelMeta, SkipFusion, class_fractions

from .actions import follow_history, make_actions, set_class_names
from .correction_controller import Collaborators, CorrectionController
from .image_opening import ImageOpening
from .import_controller import ImportController
from ..editing.editor import Editor
from .finetune_controller import FineTuneController
from .window_bars import build_menus, build_toolbars
from .window_layout import build_docks, build_status, build_views
from .window_wiring import wire
from ..services.gui_gc import collect_in_gui_thread
from ..services.model_service import ModelService
from ..views.panes import pixel_at
from ..views.readout import pixel_readout
from ..editing.saved_labels import SavedLabelsCache
from .review_order import ReviewOrder
from .window_settings import WindowSettings
from .window_state import VIEWS, WindowState

QUIT_WAIT_MS = 800  # how long a quit waits for the model's current step (it is cancelled first)


MODEL_FAILED = "Could not load the model: "
SAVED_SHOWN = "Showing your saved corrections of {name}."  # the status line's start, to know it again


class MainWindow(QMainWindow):
    """Emits ``rendered`` once the current view shows the current image (used by --screenshot)."""

    rendered = Signal()

    def __init__(self, service: ModelService | None = None, settings: QSettings | None = None) -> None:
        super().__init__()
        collect_in_gui_thread()
        self.setWindowTitle("FCN Workbench")
        self.resize(1400, 880)
        self.setMinimumSize(800, 560)
        self.setAcceptDrops(True)
        self.state = WindowState(self)
        self.service = service or ModelService(self)
        self.settings = WindowSettings(settings or QSettings("FCN Workbench", "FCN Workbench"))
        self.last_error = ""
        self._hover_pos = None  # the cursor's last place over the single view, for the status line
        self._saved_shown: tuple[Path, str] | None = None  # the image and head whose saved corrections were announced
        self._model_text = "No model loaded"
        self._close_unsaved = False  # a close was refused because the labels could not be saved
        self._device_used = "auto"  # the device choice the loaded model was loaded with
        self._device_asked = "auto"  # ... and the one of the load under way
        self._messages: list[QMessageBox] = []
        self.saved_labels = SavedLabelsCache()
        self.editor = Editor(self)
        self.actions = make_actions(self)
        build_views(self)
        build_docks(self)
        self._build_menus()
        self._build_toolbars()
        build_status(self)
        self.corrections = CorrectionController(Collaborators(
            self.state, self.editor, self.service, self.actions, self.single, self.edit_panel, self.legend,
            self.files, self.tasks, self.statusBar(), self, self.show_error, self.load_model, self.settings,
            self._dismiss_messages), self)
        self.imports = ImportController(self.corrections, lambda: (self.saved_labels.clear(), self._render()), self)
        self.tuning = FineTuneController(self.corrections, self.offer_bar, lambda: self.run_all(), self)
        self.review = ReviewOrder(self.actions, self.files, self.service, self.statusBar(), self.show_path, self)
        self.images = ImageOpening(self)
        self.images.refresh_recent()
        wire(self)
        self.actions.views["single"].setChecked(True)

    # the state, read where tests and scripts look for it ------------------------------------------
    meta = property(lambda self: self.state.meta)
    result = property(lambda self: self.state.result)
    current_path = property(lambda self: self.state.path)
    variant = property(lambda self: self.state.variant)
    view = property(lambda self: self.state.view)
    display = property(lambda self: self.state.display)
    editing = property(lambda self: self.state.editing)
    fusion = property(lambda self: self.state.fusion)

    @property
    def palette(self) -> np.ndarray:
        return self.meta.palette() if self.meta is not None else np.zeros((1, 3), np.uint8)

    # construction ------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        bars = build_menus(self.menuBar(), self.actions, self.editor, self)
        self.recent_menu, self.class_menu, self.undo_action, self.redo_action = bars

    def _build_toolbars(self) -> None:
        self.toolbars = build_toolbars(self, self.actions, self.undo_action, self.redo_action)

    # model -------------------------------------------------------------------------------------
    def device_choice(self) -> str:
        checked = self.actions.device_group.checkedAction()
        return checked.data() if checked is not None else "auto"

    def _say_saved_corrections_shown(self, path: Path | None) -> None:
        """Say once per image and head that the overlay is the saved corrections, not the head's prediction
        (a head switch would otherwise seem to do nothing); take the line back when the prediction shows."""
        said = SAVED_SHOWN.split("{")[0]
        if path is None:
            if self._saved_shown is not None and self.statusBar().currentMessage().startswith(said):
                self.statusBar().clearMessage()
            self._saved_shown = None
            return
        if self._saved_shown == (path, self.variant):  # a re-render (a loaded model's, say) keeps the status line
            return
        switched = self._saved_shown is not None and self._saved_shown[0] == path
        self._saved_shown = (path, self.variant)
        self.statusBar().showMessage(SAVED_SHOWN.format(name=path.name) + (
            f" FCN-{self.variant}'s prediction is under them: L shows it." if switched else " L shows the prediction."),
            8000)

    def load_model(self, paths: list[Path], at_once: bool = False) -> None:
        """Load weights off the GUI thread; the loaded model stays in use until the new one is ready."""
        self.model_label.setText(f"{self._model_text}<br><i>Loading {', '.join(Path(p).name for p in paths)}…</i>")
        self._device_asked = self.device_choice()
        self.service.load_model([Path(p) for p in paths], self._device_asked, at_once)

    def _engine_loaded(self, meta: ModelMeta) -> None:
        device = self.service.engine.device if self.service.engine else "?"
        self._device_used = self._device_asked
        self._model_text = (f"<b>Model</b>: {', '.join('FCN-' + v for v in meta.variant_names)} · "
                            f"{meta.n_class} classes · width {meta.width:g} · {device}<br><small>{meta.source}</small>")
        self.model_label.setText(self._model_text)
        self.statusBar().showMessage(f"Loaded {', '.join(p.name for p in self.service.weights) or meta.source} "
                                     f"on {device}.", 8000)
        self._dismiss_messages(MODEL_FAILED)  # an earlier failed load's box no longer describes the window
        # saved first; reopened with the new model's classes when its result arrives (with its undo history
        # when the classes are the same: a fine-tuned model must not take the person's strokes from them)
        self.editor.close()
        self.saved_labels.clear()
        self.state.set_meta(meta)
        if self.current_path is not None:
            self.show_path(self.current_path, force=True)

    def _set_device(self, device: str) -> None:
        self._device_asked = device
        if self.service.weights:
            self.model_label.setText(f"{self._model_text}<br><i>Moving the model to {device}…</i>")
        self.service.set_device(device)

    def _model_failed(self, message: str) -> None:
        self.model_label.setText(self._model_text)  # the model in use is the one loaded before
        self.actions.devices[self._device_used].setChecked(True)  # ... on the device it was loaded on
        kept = " The model loaded before stays in use." if self.meta is not None else ""
        self.show_error(f"{MODEL_FAILED}{message}.{kept}".replace("..", "."))

    def _model_changed(self, meta: ModelMeta | None) -> None:
        if meta is None:
            return
        palette = meta.palette()
        self.legend.set_classes(meta.classes, palette)
        self.edit_panel.set_classes(meta.classes, palette)
        self.skips.set_classes(meta.classes, default=min(2, meta.n_class - 1))
        self.compare.set_variants(meta.variant_names)
        set_class_names(self.actions, meta.classes, self.editing)
        for v, act in self.actions.variants.items():
            act.setEnabled(v in meta.variant_names)
        self.actions.variants[self.variant].setChecked(True)
        self.corrections._variant_changed(self.variant)

    def _show_model_info(self) -> None:
        if self.meta is None:
            self.show_error("No model is loaded.")
            return
        lines = self.meta.describe().splitlines()
        # the lineage (indented, one long line per ancestor) goes behind "Show Details…": all of it in the box
        # would be taller than a 700-px screen
        main = [line for line in lines if not line.startswith(" ")]
        lineage = [line.strip() for line in lines if line.startswith(" ")]
        box = self._message(QMessageBox.Icon.Information, "Model",
                            "\n".join(main) + (f"\n\nShow Details… lists the {len(lineage)} model"
                                               f"{'s' * (len(lineage) != 1)} it was trained from." if lineage else ""))
        if lineage:
            box.setDetailedText("\n\n".join(lineage))

    # images (app/window/image_opening.py) ------------------------------------------------------
    def open_paths(self, paths: list[Path]) -> None:
        """Add the readable images among ``paths`` (folders expand) to the list and show the first new one."""
        self.images.open_paths(paths)

    def show_path(self, path: Path, force: bool = False) -> None:
        """Make ``path`` the current image: its result if computed, else read and segment it."""
        self.images.show_path(path, force)

    def run_all(self) -> None:
        """Segment every listed image (Ctrl+R)."""
        self.images.run_all()

    def recent(self) -> list[str]:
        return self.settings.recent()

    def _fusion_ready(self, path: Path, fusion: SkipFusion) -> None:
        if path == self.current_path and fusion.variant == self.variant:
            self.state.set_fusion(fusion)

    def _fusion_changed(self, fusion: SkipFusion | None) -> None:
        if fusion is None:  # another image or head: the previous maps must not stay under its name
            self.skips.show_fusion(None)
            return
        self._show_fusion(fusion)
        if self.view == "skips":
            self.rendered.emit()

    # display -----------------------------------------------------------------------------------
    def set_variant(self, variant: str) -> None:
        self.state.set_variant(variant)

    def _variant_changed(self, variant: str) -> None:
        self.actions.variants[variant].setChecked(True)
        self._render()

    def _set_view(self, view: str) -> None:
        self.state.set_view(view)

    def _view_changed(self, view: str) -> None:
        self.actions.views[view].setChecked(True)
        self.stack.setCurrentIndex(VIEWS.index(view))
        self._render()

    def _set_display(self, **changes) -> None:
        self.state.set_display(replace(self.display, **changes))

    def set_editing(self, on: bool) -> None:
        self.state.set_editing(on)

    def _render(self) -> None:
        r, meta = self.result, self.meta
        labels_mode = self.display.mode == "labels"
        self.legend.setVisible(labels_mode)
        self.legend_title.setVisible(labels_mode)
        if r is None or meta is None:
            return
        n = meta.n_class
        self.legend.set_fractions(r.class_fractions(self.variant, n))
        if self._hover_pos is not None:  # the status line names the head and result now shown, not the last ones
            self._hovered(self._hover_pos)
        if self.view == "single":
            self.single.show_result(r, self.variant, self.palette, self.display, n)
            if self.editing:
                self.corrections.show_labels()
            else:
                saved = self.saved_labels.get(r.path, self.editor.workspace(r.path), r.image.shape[:2], meta.classes) \
                    if self.actions.plain["show_corrections"].isChecked() and labels_mode else None
                self.single.show_labels(saved, self.palette, self.display)
                self._say_saved_corrections_shown(r.path if saved is not None else None)
                if saved is not None:  # the legend counts what is on screen
                    self.legend.set_fractions(class_fractions(saved, n))
        elif self.view == "compare":
            self.compare.show_result(r, self.palette, self.display, n)
        else:
            if self.fusion is None:
                # said in the view now, not in an error box once the request fails
                refusal = self.service.engine.fusion_refusal(r.image.shape[:2], r.path.name)
                if refusal is not None:
                    self.skips.show_refusal(refusal)
                    return
                self.skips.show_waiting(f"Computing the skip maps of {r.path.name}…")
                self.service.request_fusion(r.path, self.variant)
                return
            self._show_fusion(self.fusion)
        self.rendered.emit()

    def _show_fusion(self, fusion: SkipFusion) -> None:
        shares = self.result.class_fractions(fusion.variant, self.meta.n_class) if self.result and self.meta else None
        self.skips.show_fusion(fusion, shares)

    def _grid(self):
        return {"single": self.single, "compare": self.compare.grid, "skips": self.skips.grid}[self.view]

    def fit(self) -> None:
        self._grid().fit_all()

    def one_to_one(self) -> None:
        self._grid().one_to_one_all()

    def _hovered(self, pos) -> None:
        self._hover_pos = pos
        tool = self.editor.state.tool
        self.single.show_brush(pos if self.editing and tool in ("brush", "eraser", "take_variant") else None,
                               self.editor.state.radius)
        r = self.result
        px = pixel_at(pos, r.image.shape[:2] if r is not None else None)
        if px is None or self.meta is None or r is None:
            self.position_label.setText("")
            return
        shape = r.image.shape[:2]
        doc = self.editor.doc if self.corrections.editing_current else None
        doc = doc if doc is not None and doc.shape == shape else None  # mid-switch it can be the last image's
        layer = self.single.layer
        saved = layer.labels if doc is None and self.view == "single" and layer.isVisible() else None
        saved = saved if saved is not None and saved.shape == shape else None
        self.position_label.setText(pixel_readout(r.image, r.predictions[self.variant], self.meta, *px, doc, saved))

    def _history_changed(self) -> None:
        if self._hover_pos is not None:  # the pixel under the cursor may have just changed class
            self._hovered(self._hover_pos)
        s = self.editor.session
        follow_history(self.undo_action, self.redo_action, s.undo_name(), s.redo_name())

    # the correction workflow, as scripts and tests call it ---------------------------------------
    def export_to(self, out: Path, only_verified: bool = False, overwrite: bool = False):
        from ..dialogs.export_dialog import ExportRequest

        return self.corrections.export(ExportRequest(Path(out), overwrite, 0.2, only_verified))

    def finetune(self, iterations: int = FINETUNE_ITERATIONS):
        return self.tuning.finetune(iterations)

    def set_workspace(self, folder: Path | None) -> None:
        self.corrections.set_workspace(folder)

    # messages, dialogs, settings ---------------------------------------------------------------
    def _message(self, icon: QMessageBox.Icon, title: str, text: str) -> QMessageBox:
        box = QMessageBox(icon, title, text, parent=self)
        box.setModal(False)
        box.show()
        self._messages = [m for m in self._messages if m.isVisible()] + [box]
        return box

    def _dismiss_messages(self, prefix: str) -> None:
        """Close the message boxes still open whose text starts with ``prefix``."""
        for box in self._messages:
            if box.isVisible() and box.text().startswith(prefix):
                box.close()

    def show_error(self, message: str) -> None:
        """Tell the user without blocking the event loop; the window keeps its state."""
        self.last_error = message
        self.statusBar().showMessage(message, 10000)
        self._message(QMessageBox.Icon.Warning, "FCN Workbench", message)

    def _load_weights_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Load weights (up to three public nets form one bundle)",
                                                self.settings.weights_folder() or self._weights_near_images(),
                                                "Weights (*.pt *.pth *.caffemodel);;All files (*)")
        if files:
            self.settings.set_weights_folder(Path(files[0]).parent)
            self.load_model([Path(f) for f in files], self.actions.plain["at_once"].isChecked())

    def _weights_near_images(self) -> str:
        """Where Load weights opens when no weights were loaded before: the current image's workspace when it
        holds a model (a fine-tune's), else the image's folder."""
        if self.current_path is None:
            return ""
        root = self.editor.workspace(self.current_path).root
        return str(root if root.is_dir() and any(root.glob("*.pt")) else self.current_path.parent)

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.open_paths(paths)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.editor.release()  # a drag in progress ends here and is kept as the last stroke
        if not self.editor.save() and not self._close_unsaved:
            # never a blocking dialog: the window stays open with the edits; a second close discards them
            self._close_unsaved = True
            self.show_error(f"{self.editor.last_failure} The window stays open so they are not lost; "
                            "close it again to quit without them.")
            event.ignore()
            return
        self.files.cancel_thumbnails()
        self.service.runner.stop(QUIT_WAIT_MS)  # cancels the folder run and the image being opened too
        self.settings.save_layout(self.saveGeometry(), self.view)
        super().closeEvent(event)

    def restore_geometry(self) -> None:
        """The size and place the window had when it was last closed (if any)."""
        saved = self.settings.geometry()
        if saved is not None:
            self.restoreGeometry(saved)

    def saved_view(self) -> str:
        """The view the window was last closed in ("single" if none or not a view)."""
        return self.settings.view()
