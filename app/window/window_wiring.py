"""The main window's signal wiring: which action, widget, state change and model event drives what.

Kept apart from :mod:`app.window.main_window` so that the window's behaviour and its wiring read separately.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fcn_core import DEMO_MODEL

from ..views.display import MODES
from ..dialogs.public_weights_dialog import open_public_weights
from ..views.task_bar import FOLDER_TASK

if TYPE_CHECKING:
    from .main_window import MainWindow


def wire(w: "MainWindow") -> None:
    """Connect the window's actions, widgets, state and model service to what they drive."""
    a, p, s, st = w.actions, w.actions.plain, w.service, w.state
    c = w.corrections
    st.pathChanged.connect(lambda path: w.setWindowTitle(
        f"{path.name} — {path.parent.name} — FCN Workbench" if path is not None else "FCN Workbench"))
    p["open"].triggered.connect(lambda: w.images.open_dialog())
    p["open_folder"].triggered.connect(lambda: w.images.open_folder_dialog())
    p["run_folder"].triggered.connect(lambda: w.run_all())
    p["next"].triggered.connect(lambda: w.files.step(1))
    p["prev"].triggered.connect(lambda: w.files.step(-1))
    p["quit"].triggered.connect(lambda: w.close())
    p["load_weights"].triggered.connect(lambda: w._load_weights_dialog())
    p["get_weights"].triggered.connect(lambda: open_public_weights(w, w.load_model))
    p["load_demo"].triggered.connect(lambda: w.load_model([DEMO_MODEL]))
    p["model_info"].triggered.connect(lambda: w._show_model_info())
    p["fit"].triggered.connect(lambda: w._grid().fit_all())
    p["one_to_one"].triggered.connect(lambda: w._grid().one_to_one_all())
    p["outline"].toggled.connect(w.outline_box.setChecked)
    p["cycle_mode"].triggered.connect(lambda: w.mode_box.setCurrentIndex((w.mode_box.currentIndex() + 1) % 3))
    p["show_corrections"].toggled.connect(lambda _on: w._render())
    a.variant_group.triggered.connect(lambda act: st.set_variant(act.data()))
    a.view_group.triggered.connect(lambda act: st.set_view(act.data()))
    a.device_group.triggered.connect(lambda act: w._set_device(act.data()))
    w.mode_box.currentIndexChanged.connect(lambda i: w._set_display(mode=MODES[i]))
    w.opacity.valueChanged.connect(lambda v: w._set_display(opacity=v / 100))
    w.outline_box.toggled.connect(lambda on: (p["outline"].setChecked(on), w._set_display(outline=on)))
    w.legend.hiddenChanged.connect(lambda h: w._set_display(hidden=frozenset(h)))
    w.files.activated_path.connect(w.show_path)
    w.single.hovered.connect(w._hovered)
    w.compare.grid.hovered.connect(w._hovered)
    # correcting
    p["edit"].toggled.connect(st.set_editing)
    a.tool_group.triggered.connect(lambda act: w.editor.set_tool(act.data()))
    for act in a.classes:
        act.triggered.connect(lambda _=False, cls=act.data(): c.pick_class(cls))
    p["finish_polygon"].triggered.connect(lambda: w.editor.finish_polygon())
    p["cancel_polygon"].triggered.connect(lambda: w.editor.cancel_polygon())
    p["refine"].triggered.connect(lambda: w.editor.refine_to_edges())
    p["accept_all"].triggered.connect(lambda: w.editor.accept_all())
    p["brush_smaller"].triggered.connect(lambda: w.edit_panel.set_radius(w.editor.state.radius / 1.25))
    p["brush_bigger"].triggered.connect(lambda: w.edit_panel.set_radius(w.editor.state.radius * 1.25 + 1))
    p["export"].triggered.connect(lambda: c.export_dialog())
    p["import"].triggered.connect(lambda: w.imports.dialog())
    p["finetune"].triggered.connect(lambda: w.tuning.finetune())  # never a method: `triggered` passes checked=False
    p["choose_workspace"].triggered.connect(lambda: c.choose_workspace())
    w.edit_panel.acceptRequested.connect(w.editor.accept_all)
    w.editor.polygonChanged.connect(w.single.show_polygon)
    w.editor.historyChanged.connect(w._history_changed)
    w.editor.pressedNowhere.connect(
        lambda why: w.statusBar().showMessage(f"Nothing was painted: {why}", 10000))
    w.editor.saved.connect(lambda path: w.saved_labels.forget(path))
    # the state drives the views
    st.modelChanged.connect(w._model_changed)
    st.variantChanged.connect(w._variant_changed)
    st.viewChanged.connect(w._view_changed)
    st.displayChanged.connect(lambda _d: w._render())
    st.resultChanged.connect(lambda _r: w._render())
    st.editingChanged.connect(lambda _on: w._render())
    st.fusionChanged.connect(w._fusion_changed)
    # the model service
    s.modelChanged.connect(w._engine_loaded)
    s.modelFailed.connect(w._model_failed)
    s.imageShown.connect(w.images.image_shown)
    s.imageProgress.connect(w.images.image_progress)
    s.imageReady.connect(w.images.image_ready)
    s.imageFailed.connect(w.images.image_failed)
    s.imageCancelled.connect(w.images.image_cancelled)
    s.fusionReady.connect(w._fusion_ready)
    s.failed.connect(w.show_error)
    s.notice.connect(lambda text: w.statusBar().showMessage(text, 10000))
    s.folderProgress.connect(w.images.folder_progress)
    s.folderDone.connect(w.images.folder_done)
    s.folderEnded.connect(lambda: w.tasks.end(w.tasks.row(FOLDER_TASK)))
    s.runner.busyChanged.connect(lambda busy: w.busy.setText("working…" if busy else ""))
