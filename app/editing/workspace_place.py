"""Where an image folder's corrections go: beside the images, unless that folder cannot take them (read-only,
or part of the installation, like the bundled samples); then in the user's data folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from PySide6.QtCore import QStandardPaths

from fcn_core import RESOURCES, Workspace


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except (ValueError, OSError):
        return False


def user_workspace_root(image_folder: Path) -> Path:
    """A folder of the user's data folder kept for ``image_folder`` (named after it, and unique to its path)."""
    base = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation) or Path.home())
    resolved = Path(image_folder).resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:10]
    return base / "workspaces" / f"{resolved.name or 'root'}-{digest}"


def why_not_beside(image_folder: Path) -> str | None:
    """Why corrections of ``image_folder`` cannot be saved beside the images (None: they can)."""
    folder = Path(image_folder)
    if _inside(folder, RESOURCES):
        return "is part of the installation"
    beside = Workspace.beside(folder).root
    target = beside if beside.exists() else folder
    if not os.access(target, os.W_OK | os.X_OK):
        return "is read-only"
    return None


def default_export_folder(image_folder: Path) -> Path:
    """Where the export dialog proposes to write the dataset: ``<folder>_dataset`` beside the images, or in
    the user's documents folder when the image folder cannot take it (the bundled samples)."""
    folder = Path(image_folder)
    name = f"{folder.name or 'images'}_dataset"
    if why_not_beside(folder) is None and os.access(folder.parent, os.W_OK | os.X_OK):
        return folder.parent / name
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(base or Path.home()) / name


def default_workspace(image_folder: Path) -> tuple[Workspace, str | None]:
    """The workspace for ``image_folder`` and, when it is not beside the images, why."""
    reason = why_not_beside(image_folder)
    if reason is None:
        return Workspace.beside(image_folder), None
    return Workspace(user_workspace_root(image_folder)), reason
