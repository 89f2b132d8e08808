"""Every action of the window, with its shortcut, made in one place."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence

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
}
VARIANT_KEYS = {"32s": "1", "16s": "2", "8s": "3"}
VIEW_SPECS = {"single": ("&Single", "S"), "compare": ("&Compare", "C"), "skips": ("S&kip fusion", "K")}
DEVICE_CHOICES = ("auto", "cpu", "cuda")


@dataclass
class Actions:
    plain: dict[str, QAction]
    variants: dict[str, QAction]
    variant_group: QActionGroup
    views: dict[str, QAction]
    view_group: QActionGroup
    devices: dict[str, QAction]
    device_group: QActionGroup


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
    variants, vgroup = _group(parent, {v: (f"FCN-{v}", k) for v, k in VARIANT_KEYS.items()})
    views, view_group = _group(parent, VIEW_SPECS)
    devices, dgroup = _group(parent, {d: (d, "") for d in DEVICE_CHOICES})
    return Actions(plain, variants, vgroup, views, view_group, devices, dgroup)
