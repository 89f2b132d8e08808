"""Opening images: the list, the current image's reading and segmenting (with its progress row), the folder
run, the open dialogs and the recent files. The main window delegates its image slots here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from fcn_core import ImageReadError, expand_image_paths, probe_image

from ..services.model_service import ImageResult
from ..views.task_bar import FOLDER_TASK, OPEN_TASK

if TYPE_CHECKING:
    from .main_window import MainWindow

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.tif *.tiff *.webp *.gif);;All files (*)"


class ImageOpening(QObject):
    """Which image the window shows, and how it gets there."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.w = window

    def open_paths(self, paths: list[Path]) -> None:
        """Add the readable images among ``paths`` (folders expand) to the list and show the first new one;
        the others are named in one message and neither listed nor remembered."""
        w = self.w
        found = expand_image_paths(paths)
        good, refused = [], []
        for p in found:
            try:
                probe_image(p)
                good.append(p)
            except ImageReadError as e:
                refused.append(str(e))
        if refused:
            more = f" (and {len(refused) - 3} more)" if len(refused) > 3 else ""
            w.show_error("Not opened: " + "; ".join(refused[:3]) + more + ".")
        if not good:
            if not refused:
                w.show_error("No images found in " + ", ".join(str(p) for p in paths))
            return
        w.files.add_paths(good)
        w.corrections.mark_corrected(good)
        w.tuning.offer_folder_model(good[0].parent)
        self.remember(good[0])
        self._say_where_corrections_go(good[0])
        self.show_path(good[0])

    def _say_where_corrections_go(self, path: Path) -> None:
        from ..editing.workspace_place import default_workspace

        if self.w.editor.session.workspace_root is None:
            ws, why = default_workspace(path.parent)
            if why is not None:
                self.w.statusBar().showMessage(f"Corrections of {path.parent.name} are saved in {ws.root}, because "
                                               f"{path.parent} {why}.", 15000)

    def show_path(self, path: Path, force: bool = False) -> None:
        """Make ``path`` the current image: its result if computed, else read and segment it."""
        w = self.w
        path = Path(path)
        if path == w.current_path and w.result is not None and not force:
            return
        w.state.set_path(path)
        w.files.select(path)
        cached = w.service.cached(path)
        if cached is not None:
            self.image_ready(cached)
            return
        w.state.set_result(None)
        w.single.show_result(None, w.variant, w.palette, w.display, 1)
        w.compare.show_result(None, w.palette, w.display, 1)
        if w.meta is not None:
            self._open_row(path)
            self._say_in_views(f"Segmenting {path.name}… its answers appear here when it is done.")
            w.service.open_image(path)

    def _say_in_views(self, sentence: str) -> None:
        """The compare and skip views say why they are empty (the status bar is far from where one looks)."""
        self.w.compare.show_waiting(sentence)
        self.w.skips.show_waiting(sentence)

    def _open_row(self, path: Path):
        tasks = self.w.tasks
        tasks.end(tasks.row(OPEN_TASK))
        row = tasks.start(OPEN_TASK, self.w.service.cancel_open)
        row.bar.setFormat(f"reading {path.name}")
        return row

    # the model service's answers about the image being opened -----------------------------------------
    def image_shown(self, path: Path, image: np.ndarray) -> None:
        """The image is read: show it at once; its labels follow."""
        w = self.w
        if path == w.current_path and w.result is None:
            w.single.pane.set_image(image)
            w.single.pane.set_overlay(None)
            w.legend.set_fractions(None)  # the shares are the previous image's until these labels come
            row = w.tasks.row(OPEN_TASK)
            if row is not None:
                row.bar.setFormat(f"segmenting {path.name}")

    def image_progress(self, path: Path, done: int, total: int) -> None:
        row = self.w.tasks.row(OPEN_TASK)
        if row is not None and path == self.w.current_path:
            row.progress(done, total, "")
            row.bar.setFormat(f"segmenting {done} of {total} tiles")

    def image_ready(self, result: ImageResult) -> None:
        w = self.w
        w.files.set_status(result.path, "", result.image)
        if result.path != w.current_path:
            return
        w.tasks.end(w.tasks.row(OPEN_TASK))
        w.state.set_result(result)

    def image_failed(self, path: Path, message: str) -> None:
        w = self.w
        w.tasks.end(w.tasks.row(OPEN_TASK))
        w.files.set_status(path, "⚠ unreadable")
        if path == w.current_path:
            self._say_in_views(f"{path.name} could not be segmented (see the message).")
        self.forget(path)
        w.show_error(message)

    def image_cancelled(self, path: Path) -> None:
        w = self.w
        if path == w.current_path:
            w.tasks.end(w.tasks.row(OPEN_TASK))
            w.statusBar().showMessage(f"Stopped segmenting {path.name}.", 8000)
            self._say_in_views(f"Segmenting {path.name} was stopped; open it again to segment it.")

    # the folder run ---------------------------------------------------------------------------------------
    def run_all(self) -> None:
        w = self.w
        if not w.files.paths:
            w.show_error("Open some images first.")
            return
        if w.service.folder_running:
            w.statusBar().showMessage("The images are already being segmented.", 5000)
            return
        if w.service.engine is None:
            w.show_error("No model is loaded.")
            return
        w.tasks.start(FOLDER_TASK, w.service.cancel_folder).progress(0, len(w.files.paths))
        w.service.run_folder(list(w.files.paths))

    def folder_progress(self, done: int, total: int, name: str) -> None:
        row = self.w.tasks.row(FOLDER_TASK)
        if row is not None:
            row.progress(done, total, name)

    def folder_done(self, ok: int, bad: int) -> None:
        msg = "Cancelled." if ok < 0 else f"Segmented {ok} images" + (f"; {bad} could not be read." if bad else ".")
        self.w.statusBar().showMessage(msg, 8000)

    # dialogs and recent files -------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self.w, "Open images", self._start_folder(), IMAGE_FILTER)
        if files:
            self.open_paths([Path(f) for f in files])

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.w, "Open folder", self._start_folder())
        if folder:
            self.open_paths([Path(folder)])

    def _start_folder(self) -> str:
        return str(self.w.current_path.parent) if self.w.current_path is not None else ""

    def remember(self, path: Path) -> None:
        self.w.settings.remember(path)
        self.refresh_recent()

    def forget(self, path: Path) -> None:
        if self.w.settings.forget(path):
            self.refresh_recent()

    def refresh_recent(self) -> None:
        menu, recent = self.w.recent_menu, self.w.settings.recent()
        menu.clear()
        for r in recent:
            menu.addAction(r, lambda r=r: self.open_paths([Path(r)]))
        menu.setEnabled(bool(recent))
