"""The window's menus and toolbars, laid out from the actions of :mod:`.actions` (which hold every shortcut)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenu, QMenuBar, QToolBar

from .actions import Actions, set_edit_shortcuts, undo_actions
from ..editing.editor import Editor


def build_menus(bar: QMenuBar, a: Actions, editor: Editor, window: QMainWindow
                ) -> tuple[QMenu, QMenu, QAction, QAction]:
    """File, Model, View and Correct; returns (the recent-files menu, the class menu, undo, redo)."""
    p = a.plain
    file_menu = bar.addMenu("&File")
    for name in ("open", "open_folder"):
        file_menu.addAction(p[name])
    recent_menu = file_menu.addMenu("Open &recent")
    file_menu.addAction(p["import"])
    file_menu.addAction(p["export"])  # also under Correct, beside the corrections; File is where people look first
    file_menu.addSeparator()
    for name in ("run_folder", "next", "prev", "next_to_correct"):
        file_menu.addAction(p[name])
    sort_menu = file_menu.addMenu("&Sort images")
    for act in a.sorts.values():
        sort_menu.addAction(act)
    file_menu.addSeparator()
    file_menu.addAction(p["quit"])
    model_menu = bar.addMenu("&Model")
    for name in ("load_weights", "get_weights", "load_demo", "at_once", "model_info"):
        model_menu.addAction(p[name])
    dev = model_menu.addMenu("&Device")
    for act in a.devices.values():
        dev.addAction(act)
    a.devices["auto"].setChecked(True)
    view_menu = bar.addMenu("&View")
    for act in [*a.views.values(), None, *a.variants.values(), None]:
        view_menu.addSeparator() if act is None else view_menu.addAction(act)
    for name in ("fit", "one_to_one", "outline", "cycle_mode", "show_corrections"):
        view_menu.addAction(p[name])
    edit_menu = bar.addMenu("&Correct")
    undo, redo = undo_actions(window, editor.undo, editor.redo)
    for act in [p["edit"], None, *a.tools.values(), None, p["finish_polygon"], p["cancel_polygon"], p["refine"],
                p["brush_smaller"], p["brush_bigger"], p["accept_all"], None, undo, redo, None,
                p["choose_workspace"], p["export"], p["finetune"]]:
        edit_menu.addSeparator() if act is None else edit_menu.addAction(act)
    class_menu = edit_menu.addMenu("C&lass")
    for act in a.classes:
        class_menu.addAction(act)
        window.addAction(act)  # the number keys work wherever the focus is
    a.tools["brush"].setChecked(True)
    set_edit_shortcuts(a, False)
    return recent_menu, class_menu, undo, redo


def _toolbar(window: QMainWindow, title: str, actions: list, text_beside: bool = False) -> QToolBar:
    tb = window.addToolBar(title)
    tb.setObjectName(title.lower().replace(" ", "_") + "_toolbar")
    tb.setIconSize(QSize(20, 20))
    tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly if text_beside
                          else Qt.ToolButtonStyle.ToolButtonIconOnly)
    for act in actions:
        tb.addSeparator() if act is None else tb.addAction(act)
    return tb


def build_toolbars(window: QMainWindow, a: Actions, undo: QAction, redo: QAction) -> dict[str, QToolBar]:
    """Grouped icon toolbars; Undo and Redo sit with the tools, so they show whenever the tools do."""
    p = a.plain
    for v, act in a.variants.items():
        act.setIconText(v)  # the toolbar says "32s", the menu "FCN-32s"
    return {
        "file": _toolbar(window, "File", [p["open"], p["open_folder"], p["run_folder"]]),
        "variants": _toolbar(window, "Variants", list(a.variants.values()), text_beside=True),
        "view": _toolbar(window, "View", [*a.views.values(), None, p["fit"], p["one_to_one"]]),
        "correct": _toolbar(window, "Correct", [p["edit"], None, *a.tools.values(), None, undo, redo]),
    }
