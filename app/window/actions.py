"""Every action of the window, with its shortcut, made in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence

from fcn_core import DEVICE_CHOICES

# name: (text, shortcut, tip, icon)
ACTION_SPECS: dict[str, tuple[str, str | None, str, str | None]] = {
    "open": ("&Open images…", "Ctrl+O", "Open image files", "mdi6.image-plus"),
    "open_folder": ("Open &folder…", "Ctrl+Shift+O", "Open every image in a folder", "mdi6.folder-open"),
    "import": ("&Import annotations…", "Ctrl+Shift+I", "Import labelme, COCO, VOC or mask annotations as this "
               "folder's corrections (all or nothing)", "mdi6.import"),
    "run_folder": ("&Run all images", "Ctrl+R", "Segment every image in the list (cancellable)", "mdi6.play-box-multiple"),
    "next": ("&Next image", "PgDown", "Next image", None),
    "next_to_correct": ("Next image to &correct", "N", "Open the image the model is least sure of among those not "
                        "corrected yet (ranked by Run all images)", "mdi6.target"),
    "prev": ("&Previous image", "PgUp", "Previous image", None),
    "quit": ("&Quit", "Ctrl+Q", "Quit", None),
    "load_weights": ("&Load weights…", "Ctrl+L", "Load a checkpoint, torchfcn .pth or .caffemodel files (select up to three to bundle)", "mdi6.brain"),
    "get_weights": ("&Get public weights…", None, "Download the published FCN nets (torchfcn .pth, the authors' "
                    ".caffemodel) into the cache, then load them", "mdi6.cloud-download"),
    "load_demo": ("Load &demo model", None, "The bundled demo model", None),
    "at_once": ("FCN-8s weights are &at-once", None, "Treat FCN-8s public weights as the at-once net (pool scaling)", None),
    "model_info": ("Model &info", "Ctrl+I", "What the loaded model holds", None),
    "fit": ("&Fit", "F", "Fit the image in the view", "mdi6.fit-to-screen"),
    "one_to_one": ("&1:1", "Ctrl+0", "One image pixel per screen pixel", "mdi6.magnify-scan"),
    "outline": ("&Outline", "O", "Draw class outlines instead of filled regions", None),
    "cycle_mode": ("Cycle &overlay", "M", "Labels → confidence → entropy", None),
    "show_corrections": ("Show saved &corrections", "L", "Outside edit mode, show an image's saved corrections instead of the prediction", None),
    "edit": ("&Correct labels", "E", "Edit mode: paint corrections (number keys pick classes)", "mdi6.pencil"),
    "finish_polygon": ("Finish &polygon", "Return", "Fill the polygon drawn so far", None),
    "cancel_polygon": ("Cancel po&lygon", "Escape", "Drop the polygon corners placed so far", None),
    "refine": ("Refine to &edges", "R", "GrabCut: snap the polygon (or the current class) to the image's edges", "mdi6.auto-fix"),
    "brush_smaller": ("Smaller brush", "[", "Brush radius down", None),
    "brush_bigger": ("Bigger brush", "]", "Brush radius up", None),
    "accept_all": ("&Accept all as verified", None, "Mark every pixel of this image verified as it is", None),
    "choose_workspace": ("Choose &workspace folder…", None, "Where corrections are saved (default: beside the images)", None),
    "export": ("&Export dataset…", "Ctrl+E", "Write the corrected labels as a dataset (VOC layout, COCO or labelme)", "mdi6.export"),
    "finetune": ("&Fine-tune on my corrections…", "Ctrl+T", "Train the loaded model further on the corrected images", "mdi6.school"),
}
# actions that act on the labels being corrected: enabled in edit mode only
EDIT_ONLY = ("finish_polygon", "cancel_polygon", "refine", "brush_smaller", "brush_bigger", "accept_all")
TOOL_SPECS = {
    "brush": ("&Brush", "B", "mdi6.brush"), "eraser": ("E&raser", "X", "mdi6.eraser"),
    "fill": ("&Fill", "G", "mdi6.format-color-fill"), "polygon": ("&Polygon", "P", "mdi6.vector-polygon"),
    "eyedropper": ("Eye&dropper", "I", "mdi6.eyedropper"), "take_variant": ("&Take variant here", "T", "mdi6.content-copy"),
}
VARIANT_KEYS = {"32s": "1", "16s": "2", "8s": "3"}
VIEW_SPECS = {"single": ("&Single", "S", "mdi6.image"), "compare": ("&Compare", "C", "mdi6.view-grid"),
              "skips": ("S&kip fusion", "K", "mdi6.source-merge")}
# how the image list is ordered: as opened, or most uncertain first (fcn_core.inference.uncertainty's measures)
SORT_SPECS = {"opened": ("As &opened", ""), "entropy": ("Most uncertain first: mean &entropy", ""),
              "margin": ("Most uncertain first: low &margin", ""),
              "disagreement": ("Most uncertain first: FCN-32s and FCN-8s &disagree", "")}
MAX_CLASS_KEYS = 10  # digits 0-9 pick the first ten classes while editing


def icon(name: str | None):
    """A Material Design icon from qtawesome (an empty icon for None, or if the font cannot load)."""
    from PySide6.QtGui import QIcon

    if name is None:
        return QIcon()
    try:
        import qtawesome

        return qtawesome.icon(name, color="#3c4043", color_disabled="#b0b0b0")
    except Exception:  # noqa: BLE001 - an icon font that fails to load must not stop the window
        return QIcon()


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
    sorts: dict[str, QAction]
    sort_group: QActionGroup


def _group(parent: QObject, specs: dict[str, tuple]) -> tuple[dict[str, QAction], QActionGroup]:
    group = QActionGroup(parent)
    group.setExclusive(True)
    out = {}
    for name, (text, key, *rest) in specs.items():
        a = QAction(icon(rest[0] if rest else None), text, parent)
        a.setToolTip(f"{text.replace('&', '')} ({key})" if key else text.replace("&", ""))
        a.setCheckable(True)
        if key:
            a.setShortcut(QKeySequence(key))
        a.setData(name)
        group.addAction(a)
        out[name] = a
    return out, group


def make_actions(parent: QObject) -> Actions:
    plain = {}
    for name, (text, key, tip, icon_name) in ACTION_SPECS.items():
        a = QAction(icon(icon_name), text, parent)
        if key is not None:
            a.setShortcut(QKeySequence(key))
        a.setStatusTip(tip)
        a.setToolTip(f"{tip} ({a.shortcut().toString()})" if key else tip)
        a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        plain[name] = a
    plain["outline"].setCheckable(True)
    plain["at_once"].setCheckable(True)
    plain["edit"].setCheckable(True)
    plain["show_corrections"].setCheckable(True)
    plain["show_corrections"].setChecked(True)
    variants, vgroup = _group(parent, {v: (f"FCN-{v}", k) for v, k in VARIANT_KEYS.items()})
    views, view_group = _group(parent, VIEW_SPECS)
    devices, dgroup = _group(parent, {d: (d, "") for d in DEVICE_CHOICES})
    tools, tgroup = _group(parent, TOOL_SPECS)
    classes = []
    for digit in range(MAX_CLASS_KEYS):
        a = QAction(f"Class {digit}", parent)
        a.setShortcut(QKeySequence(str(digit)))
        a.setData(digit)
        a.setEnabled(False)  # enabled in edit mode, where digits pick classes and Alt+digit picks variants
        a.setVisible(False)  # until a model names its classes
        classes.append(a)
    sorts, sort_group = _group(parent, SORT_SPECS)
    sorts["opened"].setChecked(True)
    return Actions(plain, variants, vgroup, views, view_group, devices, dgroup, tools, tgroup, classes, sorts, sort_group)


def set_edit_shortcuts(actions: Actions, editing: bool) -> None:
    """Digits pick classes while editing and variants otherwise (then Alt+digit picks variants); the tools
    and the actions on the labels being corrected work in edit mode only."""
    for v, a in actions.variants.items():
        a.setShortcut(QKeySequence(("Alt+" if editing else "") + VARIANT_KEYS[v]))
    for a in actions.classes:
        a.setEnabled(editing and a.isVisible())
    for a in actions.tools.values():
        a.setEnabled(editing)
    for name in EDIT_ONLY:
        actions.plain[name].setEnabled(editing)


def set_class_names(actions: Actions, classes: tuple[str, ...], editing: bool) -> None:
    """The class actions name the model's classes; digits beyond its class count do nothing."""
    for digit, a in enumerate(actions.classes):
        exists = digit < len(classes)
        a.setVisible(exists)
        a.setText(f"Class {digit}: {classes[digit]}" if exists else f"Class {digit}")
        a.setEnabled(exists and editing)


def undo_actions(parent: QObject, undo: Callable[[], None], redo: Callable[[], None]) -> tuple[QAction, QAction]:
    """Undo and redo actions; :func:`follow_history` keeps their state and names up to date."""
    out = []
    # explicit keys: a platform theme may bind no standard key at all (Qt's offscreen and bare X11 do not)
    for verb, keys, fn, icon_name in (("Undo", ("Ctrl+Z",), undo, "mdi6.undo"),
                                      ("Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), redo, "mdi6.redo")):
        a = QAction(icon(icon_name), f"&{verb}", parent)
        a.setShortcuts([QKeySequence(k) for k in keys])
        a.setEnabled(False)
        a.triggered.connect(lambda _=False, fn=fn: fn())
        out.append(a)
    return out[0], out[1]


def follow_history(undo: QAction, redo: QAction, undo_name: str | None, redo_name: str | None) -> None:
    """Enable Undo/Redo as the history allows and name the step each would take ("Undo brush stroke")."""
    for action, verb, name in ((undo, "Undo", undo_name), (redo, "Redo", redo_name)):
        action.setEnabled(name is not None)
        action.setText(f"&{verb} {name}" if name else f"&{verb}")
        action.setToolTip(f"{verb} {name} ({action.shortcut().toString()})" if name else f"Nothing to {verb.lower()}")
