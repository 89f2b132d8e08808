"""What the window remembers between runs: recent files, its size and view, each folder's last export.

One home for the settings keys; the window and the correction controller read and write through this.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from .window_state import VIEWS

RECENT_KEY = "recent_files"
MAX_RECENT = 10
GEOMETRY_KEY, VIEW_KEY = "window/geometry", "window/view"
WEIGHTS_FOLDER_KEY = "weights/folder"


class WindowSettings:
    """Typed access to the window's :class:`QSettings`."""

    def __init__(self, settings: QSettings) -> None:
        self.qsettings = settings

    # recent files --------------------------------------------------------------------------------------
    def recent(self) -> list[str]:
        value = self.qsettings.value(RECENT_KEY, [])
        return [value] if isinstance(value, str) else list(value or [])

    def remember(self, path: Path) -> None:
        """``path`` first among the recent files."""
        first = str(path)
        self.qsettings.setValue(RECENT_KEY, ([first] + [r for r in self.recent() if r != first])[:MAX_RECENT])

    def forget(self, path: Path) -> bool:
        """Drop ``path`` from the recent files; whether it was there."""
        recent = [r for r in self.recent() if r != str(path)]
        if recent == self.recent():
            return False
        self.qsettings.setValue(RECENT_KEY, recent)
        return True

    # the window's size and view ---------------------------------------------------------------------------
    def save_layout(self, geometry: QByteArray, view: str) -> None:
        self.qsettings.setValue(GEOMETRY_KEY, geometry)
        self.qsettings.setValue(VIEW_KEY, view)

    def geometry(self) -> QByteArray | None:
        """The size and place the window had when it was last closed (None: never closed yet)."""
        return self.qsettings.value(GEOMETRY_KEY)

    def view(self) -> str:
        """The view the window was last closed in ("single" if none or not a view)."""
        view = self.qsettings.value(VIEW_KEY, "single")
        return view if view in VIEWS else "single"

    # where weights were last loaded from ----------------------------------------------------------------
    def weights_folder(self) -> str:
        """The folder the last weights file was loaded from, if it still exists ("" otherwise)."""
        value = self.qsettings.value(WEIGHTS_FOLDER_KEY, "")
        return value if isinstance(value, str) and value and Path(value).is_dir() else ""

    def set_weights_folder(self, folder: Path) -> None:
        self.qsettings.setValue(WEIGHTS_FOLDER_KEY, str(folder))

    # exports ----------------------------------------------------------------------------------------------
    def last_export(self, image_folder: Path) -> Path | None:
        """Where this image folder's last export went."""
        last = self.qsettings.value(_folder_key("export/last", image_folder))
        return Path(last) if last else None

    def set_last_export(self, image_folder: Path, out: Path) -> None:
        self.qsettings.setValue(_folder_key("export/last", image_folder), str(out))

    # each folder's own model ------------------------------------------------------------------------------
    def folder_model(self, image_folder: Path) -> Path | None:
        """The model last fine-tuned on this folder's corrections, if its file is still there."""
        value = self.qsettings.value(_folder_key("model/folder", image_folder))
        return Path(value) if value and Path(value).is_file() else None

    def set_folder_model(self, image_folder: Path, checkpoint: Path) -> None:
        self.qsettings.setValue(_folder_key("model/folder", image_folder), str(checkpoint))


def _folder_key(prefix: str, image_folder: Path) -> str:
    return f"{prefix}-" + hashlib.sha1(str(Path(image_folder).resolve()).encode()).hexdigest()[:16]
