"""Every action of the window, with its shortcut, made in one place."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoStack

from fcn_core import DEVICE_CHOICES

# name: (text, shortcut, tip)
ACTION_SPECS: dict[str, tuple[str, str | QKeySequence.StandardKey | None, str]] = {
    "open": ("&Open images…", QKeySequence.StandardKey.Open, "Open image files"),
    "open_folder": ("Open &folder…", "Ctrl+Shift+O", "Open every image in a folder"),
    "run_folder": ("&Run all images", "Ctrl+R", "Segment every image in the list (cancellable)"),
    "next": ("&Next image", "PgDown", "Next image"),
    "prev": ("&Previous image", "PgUp", "Previous image"),
    "quit": ("&Quit", QKeySequence.StandardKey.Quit, "Quit"),
    "load_weights": ("&Load weights…", "Ctrl+L", "Load a checkpoint, torchfcn .pth or .caffemodel files (select up to three to bundle)"),
    "load_demo": ("Load &demo model", None, "The bundled demo model"),
    "at_once": ("FCN-8s weights are &at-once", None, "Treat FCN-8s public weights as the at-once net (pool scaling)"),
    "model_info": ("Model &info", "Ctrl+I", "What the loaded model holds"),
    "fit": ("&Fit", "F", "Fit the image in the view"),
    "one_to_one": ("&1:1", "Ctrl+0", "One image pixel per screen pixel"),
    "outline": ("&Outline", "O", "Draw class outlines instead of filled regions"),
    "cycle_mode": ("Cycle &overlay", "M", "Labels → confidence → entropy"),
    "edit": ("&Correct labels", "E", "Edit mode: paint corrections (number keys pick classes)"),
    "finish_polygon": ("Finish &polygon", "Return", "Fill the polygon drawn so far"),
    "cancel_polygon": ("Cancel po&lygon", "Escape", "Drop the polygon corners placed so far"),
    "refine": ("Refine to &edges", "R", "GrabCut: snap the polygon (or the current class) to the image's edges"),
    "brush_smaller": ("Smaller brush", "[", "Brush radius down"),
    "brush_bigger": ("Bigger brush", "]", "Brush radius up"),
    "choose_workspace": ("Choose &workspace folder…", None, "Where corrections are saved (default: beside the images)"),
    "export": ("&Export dataset…", "Ctrl+E", "Write the corrected labels as a VOC-layout dataset"),
    "finetune": ("&Fine-tune on my corrections…", "Ctrl+T", "Train the loaded model further on the corrected images"),
}
TOOL_SPECS = {
    "brush": ("&Brush", "B"), "eraser": ("E&raser", "X"), "fill": ("&Fill", "G"), "polygon": ("&Polygon", "P"),
    "eyedropper": ("Eye&dropper", "I"), "take_variant": ("&Take variant here", "T"),
}
VARIANT_KEYS = {"32s": "1", "16s": "2", "8s": "3"}
VIEW_SPECS = {"single": ("&Single", "S"), "compare": ("&Compare", "C"), "skips": ("S&kip fusion", "K")}


@dataclass
class Actions:
    plain: dict[str, QAction]
    variants: dict[str, QAction]
    variant_group: QActionGroup
    views: dict[str, QAction]
    view_group: QActionGroup
    devices: dict[str, QAction]
    device_group: QActionGroup
    tools: dict[str, QAction]
    tool_group: QActionGroup
    classes: list[QAction]


def _group(parent: QObject, specs: dict[str, tuple[str, str]]) -> tuple[dict[str, QAction], QActionGroup]:
    group = QActionGroup(parent)
    group.setExclusive(True)
    out = {}
    for name, (text, key) in specs.items():
        a = QAction(text, parent)
        a.setCheckable(True)
        if key:
            a.setShortcut(QKeySequence(key))
        a.setData(name)
        group.addAction(a)
        out[name] = a
    return out, group


def make_actions(parent: QObject) -> Actions:
    plain = {}
    for name, (text, key, tip) in ACTION_SPECS.items():
        a = QAction(text, parent)
        if key is not None:
            a.setShortcut(QKeySequence(key) if isinstance(key, str) else key)
        a.setStatusTip(tip)
        a.setToolTip(f"{tip} ({a.shortcut().toString()})" if key else tip)
        a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        plain[name] = a
    plain["outline"].setCheckable(True)
    plain["at_once"].setCheckable(True)
    plain["edit"].setCheckable(True)
    variants, vgroup = _group(parent, {v: (f"FCN-{v}", k) for v, k in VARIANT_KEYS.items()})
    views, view_group = _group(parent, VIEW_SPECS)
    devices, dgroup = _group(parent, {d: (d, "") for d in DEVICE_CHOICES})
    tools, tgroup = _group(parent, TOOL_SPECS)
    classes = []
    for digit in range(10):
        a = QAction(f"Class {digit}", parent)
        a.setShortcut(QKeySequence(str(digit)))
        a.setData(digit)
        a.setEnabled(False)  # enabled in edit mode, where digits pick classes and Alt+digit picks variants
        classes.append(a)
    return Actions(plain, variants, vgroup, views, view_group, devices, dgroup, tools, tgroup, classes)


def set_edit_shortcuts(actions: Actions, editing: bool) -> None:
    """Digits pick classes while editing and variants otherwise (then Alt+digit picks variants)."""
    for v, a in actions.variants.items():
        a.setShortcut(QKeySequence(("Alt+" if editing else "") + VARIANT_KEYS[v]))
    for a in actions.classes:
        a.setEnabled(editing)
    for a in actions.tools.values():
        a.setEnabled(editing)


def undo_actions(parent: QObject, stack: QUndoStack, undo, redo) -> tuple[QAction, QAction]:
    """Undo and redo actions that follow ``stack`` (enabled, "Undo brush") but call ``undo`` / ``redo``,
    so the editor can end a drag in progress first."""
    out = []
    for verb, key, fn, can, can_changed, text_changed in (
            ("Undo", QKeySequence.StandardKey.Undo, undo, stack.canUndo, stack.canUndoChanged, stack.undoTextChanged),
            ("Redo", QKeySequence.StandardKey.Redo, redo, stack.canRedo, stack.canRedoChanged, stack.redoTextChanged)):
        a = QAction(f"&{verb}", parent)
        a.setShortcut(QKeySequence(key))
        a.setEnabled(can())
        a.triggered.connect(lambda _=False, fn=fn: fn())
        can_changed.connect(a.setEnabled)
        text_changed.connect(lambda text, a=a, verb=verb: a.setText(f"&{verb} {text}".rstrip()))
        out.append(a)
    return out[0], out[1]
