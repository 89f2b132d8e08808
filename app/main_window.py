"""The Workbench window: wires the model service, the views and the controls together."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDockWidget, QFileDialog, QFormLayout, QLabel, QMainWindow, QMessageBox, QProgressBar,
    QSlider, QStackedWidget, QVBoxLayout, QWidget,
)

from fcn_core import DEMO_MODEL, ModelMeta, SkipFusion, expand_image_paths

from .actions import make_actions, set_edit_shortcuts, undo_actions
from .edit_panel import EditPanel
from .correcting import CorrectingMixin
from .editor import Editor
from .compare_view import CompareView
from .display import MODES, DisplaySettings
from .file_list import FileList
from .legend import ClassLegend
from .model_service import ImageResult, ModelService
from .panes import pixel_at
from .readout import pixel_readout
from .single_view import SingleView
from .skip_view import SkipView
from .task_bar import FOLDER_TASK, TaskBar

VIEWS = ("single", "compare", "skips")
RECENT_KEY = "recent_files"
MAX_RECENT = 10


class MainWindow(CorrectingMixin, QMainWindow):
    """Emits ``rendered`` once the current view shows the current image (used by --screenshot)."""

    rendered = Signal()

    def __init__(self, service: ModelService | None = None, settings: QSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("FCN Workbench")
        self.resize(1400, 880)
        self.setAcceptDrops(True)
        self.service = service or ModelService(self)
        self.settings = settings or QSettings("FCN Workbench", "FCN Workbench")
        self.meta: ModelMeta | None = None
        self.palette = np.zeros((1, 3), np.uint8)
        self.result: ImageResult | None = None
        self.current_path: Path | None = None
        self.variant = "8s"
        self.view = "single"
        self.display = DisplaySettings()
        self.fusion: SkipFusion | None = None
        self.last_error = ""
        self._close_unsaved = False  # a close was refused because the labels could not be saved
        self._messages: list[QMessageBox] = []

        self.editor = Editor(self)
        self.editing = False
        self.actions = make_actions(self)
        self._build_views()
        self._build_docks()
        self._build_menus()
        self._build_status()
        self._connect()
        self._set_view("single")

    # construction ------------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.single = SingleView()
        self.compare = CompareView()
        self.skips = SkipView()
        self.stack = QStackedWidget()
        for w in (self.single, self.compare, self.skips):
            self.stack.addWidget(w)
        self.setCentralWidget(self.stack)

    def _build_docks(self) -> None:
        self.files = FileList()
        left = QDockWidget("Images", self)
        left.setObjectName("images")
        left.setWidget(self.files)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, left)

        panel = QWidget()
        form = QFormLayout()
        self.mode_box = QComboBox()
        self.mode_box.addItems(["class labels", "confidence (softmax margin)", "entropy"])
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(int(self.display.opacity * 100))
        self.outline_box = QCheckBox("outlines only")
        form.addRow("Overlay", self.mode_box)
        form.addRow("Opacity", self.opacity)
        form.addRow("", self.outline_box)
        self.legend = ClassLegend()
        self.model_label = QLabel("No model loaded")
        self.model_label.setWordWrap(True)
        layout = QVBoxLayout(panel)
        layout.addLayout(form)
        layout.addWidget(QLabel("Classes (uncheck to hide)"))
        layout.addWidget(self.legend, 1)
        self.edit_panel = EditPanel(self.editor)
        self.edit_panel.setVisible(False)
        layout.addWidget(self.edit_panel)
        layout.addWidget(self.model_label)
        right = QDockWidget("Display", self)
        right.setObjectName("display")
        right.setWidget(panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, right)

    def _build_menus(self) -> None:
        a = self.actions
        p = a.plain
        file_menu = self.menuBar().addMenu("&File")
        for name in ("open", "open_folder"):
            file_menu.addAction(p[name])
        self.recent_menu = file_menu.addMenu("Open &recent")
        file_menu.addSeparator()
        for name in ("run_folder", "next", "prev"):
            file_menu.addAction(p[name])
        file_menu.addSeparator()
        file_menu.addAction(p["quit"])
        model_menu = self.menuBar().addMenu("&Model")
        for name in ("load_weights", "load_demo", "at_once", "model_info"):
            model_menu.addAction(p[name])
        dev = model_menu.addMenu("&Device")
        for act in a.devices.values():
            dev.addAction(act)
        a.devices["auto"].setChecked(True)
        view_menu = self.menuBar().addMenu("&View")
        for act in [*a.views.values(), None, *a.variants.values(), None]:
            view_menu.addSeparator() if act is None else view_menu.addAction(act)
        for name in ("fit", "one_to_one", "outline", "cycle_mode"):
            view_menu.addAction(p[name])
        edit_menu = self.menuBar().addMenu("&Correct")
        self.undo_action, self.redo_action = undo, redo = undo_actions(self, self.editor.undo_stack,
                                                                       self.editor.undo, self.editor.redo)
        for act in [p["edit"], None, *a.tools.values(), None, p["finish_polygon"], p["cancel_polygon"], p["refine"], p["brush_smaller"],
                    p["brush_bigger"], None, undo, redo, None, p["choose_workspace"], p["export"], p["finetune"], *a.classes]:
            edit_menu.addSeparator() if act is None else edit_menu.addAction(act)
        for act in a.classes:
            self.addAction(act)
        a.tools["brush"].setChecked(True)
        set_edit_shortcuts(a, False)
        tb = self.addToolBar("Main")
        tb.setObjectName("main_toolbar")
        for act in [p["open"], p["open_folder"], p["run_folder"], None, *a.variants.values(), None,
                    *a.views.values(), None, p["fit"], p["one_to_one"], None, p["edit"], *a.tools.values(), undo, redo]:
            tb.addSeparator() if act is None else tb.addAction(act)
        self._refresh_recent()

    def _build_status(self) -> None:
        sb = self.statusBar()
        self.position_label = QLabel("")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.busy.setVisible(False)
        self.tasks = TaskBar()  # segmenting a folder, exporting: a progress bar and a Cancel each
        sb.addWidget(self.position_label, 1)
        sb.addPermanentWidget(self.tasks)
        sb.addPermanentWidget(self.busy)

    def _connect(self) -> None:
        a, p, s = self.actions, self.actions.plain, self.service
        p["open"].triggered.connect(self._open_dialog)
        p["open_folder"].triggered.connect(self._open_folder_dialog)
        p["run_folder"].triggered.connect(self.run_all)
        p["next"].triggered.connect(lambda: self.files.step(1))
        p["prev"].triggered.connect(lambda: self.files.step(-1))
        p["quit"].triggered.connect(self.close)
        p["load_weights"].triggered.connect(self._load_weights_dialog)
        p["load_demo"].triggered.connect(lambda: self.load_model([DEMO_MODEL]))
        p["model_info"].triggered.connect(self._show_model_info)
        p["fit"].triggered.connect(self.fit)
        p["one_to_one"].triggered.connect(self.one_to_one)
        p["outline"].toggled.connect(self.outline_box.setChecked)
        p["cycle_mode"].triggered.connect(lambda: self.mode_box.setCurrentIndex((self.mode_box.currentIndex() + 1) % 3))
        a.variant_group.triggered.connect(lambda act: self.set_variant(act.data()))
        a.view_group.triggered.connect(lambda act: self._set_view(act.data()))
        a.device_group.triggered.connect(lambda act: self.service.set_device(act.data()))
        self.mode_box.currentIndexChanged.connect(lambda i: self._set_display(mode=MODES[i]))
        self.opacity.valueChanged.connect(lambda v: self._set_display(opacity=v / 100))
        self.outline_box.toggled.connect(lambda on: (p["outline"].setChecked(on), self._set_display(outline=on)))
        self.legend.hiddenChanged.connect(lambda h: self._set_display(hidden=frozenset(h)))
        self.files.activated_path.connect(self.show_path)
        self.single.hovered.connect(self._hovered)
        self.compare.grid.hovered.connect(self._hovered)
        p["edit"].toggled.connect(self.set_editing)
        a.tool_group.triggered.connect(lambda act: self.editor.set_tool(act.data()))
        for act in a.classes:
            act.triggered.connect(lambda _=False, c=act.data(): self._pick_class(c))
        p["finish_polygon"].triggered.connect(self.editor.finish_polygon)
        p["cancel_polygon"].triggered.connect(self.editor.cancel_polygon)
        self.editor.polygonChanged.connect(self.single.show_polygon)
        p["refine"].triggered.connect(self.editor.refine_to_edges)
        p["brush_smaller"].triggered.connect(lambda: self.edit_panel.set_radius(self.editor.state.radius / 1.25))
        p["brush_bigger"].triggered.connect(lambda: self.edit_panel.set_radius(self.editor.state.radius * 1.25 + 1))
        p["export"].triggered.connect(self._export_dialog)
        p["finetune"].triggered.connect(self.finetune)
        p["choose_workspace"].triggered.connect(self._choose_workspace)
        self.edit_panel.acceptRequested.connect(self.editor.accept_all)
        self.editor.changed.connect(self._labels_changed)
        self.editor.saveFailed.connect(self.show_error)
        s.modelChanged.connect(self._model_changed)
        s.imageReady.connect(self._image_ready)
        s.fusionReady.connect(self._fusion_ready)
        s.failed.connect(self.show_error)
        s.notice.connect(lambda text: self.statusBar().showMessage(text, 10000))
        s.folderProgress.connect(self._folder_progress)
        s.folderDone.connect(self._folder_done)
        s.folderEnded.connect(lambda: self.tasks.end(self.tasks.row(FOLDER_TASK)))
        s.runner.busyChanged.connect(self.busy.setVisible)

    # model -------------------------------------------------------------------------------------
    def load_model(self, paths: list[Path], at_once: bool = False) -> None:
        device = self.actions.device_group.checkedAction().data() if self.actions.device_group.checkedAction() else "auto"
        self.model_label.setText("Loading model…")
        self.service.load_model([Path(p) for p in paths], device, at_once)

    def _model_changed(self, meta: ModelMeta) -> None:
        self.meta = meta
        self.palette = meta.palette()
        self.legend.set_classes(meta.classes, self.palette)
        self.edit_panel.set_classes(meta.classes, self.palette)
        self.skips.set_classes(meta.classes, default=min(2, meta.n_class - 1))
        self.compare.set_variants(meta.variant_names)
        for v, act in self.actions.variants.items():
            act.setEnabled(v in meta.variant_names)
        if self.variant not in meta.variant_names:
            self.variant = meta.variant_names[-1]
        self._take_tool_follows_variant()
        self.actions.variants[self.variant].setChecked(True)
        device = self.service.engine.device if self.service.engine else "?"
        self.model_label.setText(f"<b>Model</b>: {', '.join('FCN-' + v for v in meta.variant_names)} · "
                                 f"{meta.n_class} classes · width {meta.width:g} · {device}<br>"
                                 f"<small>{meta.source}</small>")
        self.result = None
        self.fusion = None
        self.editor.close()  # saved first; reopened with the new model's classes when its result arrives
        if self.current_path is not None:
            self.show_path(self.current_path)

    def _show_model_info(self) -> None:
        if self.meta is None:
            self.show_error("No model is loaded.")
            return
        box = QMessageBox(QMessageBox.Icon.Information, "Model", self.meta.describe(), parent=self)
        box.setModal(False)
        box.show()
        self._messages.append(box)

    # images ------------------------------------------------------------------------------------
    def open_paths(self, paths: list[Path]) -> None:
        """Add images (folders expand) to the list and show the first new one."""
        found = expand_image_paths(paths)
        if not found:
            self.show_error("No images found in " + ", ".join(str(p) for p in paths))
            return
        self.files.add_paths(found)
        self._remember(found)
        self.show_path(found[0])

    def show_path(self, path: Path) -> None:
        path = Path(path)
        self.current_path = path
        self.files.select(path)
        self.fusion = None
        cached = self.service.cached(path)
        if cached is not None:
            self._image_ready(cached)
        elif self.meta is not None:
            self.service.open_image(path)

    def _image_ready(self, result: ImageResult) -> None:
        self.files.set_status(result.path, "", result.image)
        if result.path != self.current_path:
            return
        self.result = result
        if self.editing:
            self._open_in_editor()
        self._render()

    def _fusion_ready(self, path: Path, fusion: SkipFusion) -> None:
        if path == self.current_path and fusion.variant == self.variant:
            self.fusion = fusion
            self.skips.show_fusion(fusion)
            if self.view == "skips":
                self.rendered.emit()

    def run_all(self) -> None:
        if not self.files.paths:
            self.show_error("Open some images first.")
            return
        if self.service.folder_running:
            self.statusBar().showMessage("The images are already being segmented.", 5000)
            return
        self.tasks.start(FOLDER_TASK, self.service.cancel_folder).progress(0, len(self.files.paths))
        self.service.run_folder(list(self.files.paths))

    def _folder_progress(self, done: int, total: int, name: str) -> None:
        row = self.tasks.row(FOLDER_TASK)
        if row is not None:
            row.progress(done, total, name)

    def _folder_done(self, ok: int, bad: int) -> None:
        msg = "Cancelled." if ok < 0 else f"Segmented {ok} images" + (f"; {bad} could not be read." if bad else ".")
        self.statusBar().showMessage(msg, 8000)

    def _take_tool_follows_variant(self) -> None:
        """"Take variant here" copies the chosen variant, and its menu entry says which."""
        self.editor.state.source_variant = self.variant
        self.actions.tools["take_variant"].setText(f"&Take FCN-{self.variant} here")

    # display -----------------------------------------------------------------------------------
    def set_variant(self, variant: str) -> None:
        if self.meta is None or variant not in self.meta.variant_names:
            return
        self.variant = variant
        self._take_tool_follows_variant()
        self.actions.variants[variant].setChecked(True)
        if self.fusion is not None and self.fusion.variant != variant:
            self.fusion = None
        self._render()

    def _set_view(self, view: str) -> None:
        self.view = view
        self.actions.views[view].setChecked(True)
        self.stack.setCurrentIndex(VIEWS.index(view))
        self._render()

    def _set_display(self, **changes) -> None:
        new = replace(self.display, **changes)
        if new != self.display:
            self.display = new
            self._render()

    def _render(self) -> None:
        r = self.result
        if r is None or self.meta is None:
            return
        n = self.meta.n_class
        self.legend.set_fractions(r.class_fractions(self.variant, n))
        if self.view == "single" and self.editing and self.editor.doc is not None and self.editor.path == r.path:
            self.single.show_result(r, self.variant, self.palette, self.display, n)
            self.single.show_labels(self.editor.doc.labels, self.palette, replace(self.display, mode="labels"))
        elif self.view == "single":
            self.single.show_result(r, self.variant, self.palette, self.display, n)
        elif self.view == "compare":
            self.compare.show_result(r, self.palette, self.display, n)
        else:
            if self.fusion is None:
                self.service.request_fusion(r.path, self.variant)
                return
            self.skips.show_fusion(self.fusion)
        self.rendered.emit()

    def _grid(self):
        return {"single": self.single, "compare": self.compare.grid, "skips": self.skips.grid}[self.view]

    def fit(self) -> None:
        self._grid().fit_all()

    def one_to_one(self) -> None:
        self._grid().one_to_one_all()

    def _hovered(self, pos) -> None:
        tool = self.editor.state.tool
        self.single.show_brush(pos if self.editing and tool in ("brush", "eraser", "take_variant") else None,
                               self.editor.state.radius)
        r = self.result
        px = pixel_at(pos, r.image.shape[:2] if r is not None else None)
        if px is None or self.meta is None or r is None:
            self.position_label.setText("")
            return
        doc = self.editor.doc if self.editing and self.editor.path == r.path else None
        self.position_label.setText(pixel_readout(r.image, r.predictions[self.variant], self.meta, *px, doc))

    # messages, dialogs, settings ---------------------------------------------------------------
    def show_error(self, message: str) -> None:
        """Tell the user without blocking the event loop; the window keeps its state."""
        self.last_error = message
        self.model_label.setText(self.model_label.text().replace("Loading model…", "No model loaded"))
        self.statusBar().showMessage(message, 10000)
        box = QMessageBox(QMessageBox.Icon.Warning, "FCN Workbench", message, parent=self)
        box.setModal(False)
        box.show()
        self._messages = [m for m in self._messages if m.isVisible()] + [box]

    def _open_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open images", "", "Images (*.jpg *.jpeg *.png *.bmp *.tif *.tiff *.webp *.gif);;All files (*)")
        if files:
            self.open_paths([Path(f) for f in files])

    def _open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open folder")
        if folder:
            self.open_paths([Path(folder)])

    def _load_weights_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Load weights (up to three public nets form one bundle)", "",
                                                "Weights (*.pt *.pth *.caffemodel);;All files (*)")
        if files:
            self.load_model([Path(f) for f in files], self.actions.plain["at_once"].isChecked())

    def _remember(self, paths: list[Path]) -> None:
        recent = [str(p) for p in paths[:1]] + [r for r in self.recent() if r not in {str(p) for p in paths[:1]}]
        self.settings.setValue(RECENT_KEY, recent[:MAX_RECENT])
        self._refresh_recent()

    def recent(self) -> list[str]:
        value = self.settings.value(RECENT_KEY, [])
        return [value] if isinstance(value, str) else list(value or [])

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for r in self.recent():
            self.recent_menu.addAction(r, lambda r=r: self.open_paths([Path(r)]))
        self.recent_menu.setEnabled(bool(self.recent()))

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
        self.service.cancel_folder()
        self.service.runner.wait(5000)
        super().closeEvent(event)
