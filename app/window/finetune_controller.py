"""The fine-tune loop in the window: the dialog, loading the new model as the folder's own, offering it again when
the folder is opened, re-segmenting the folder, and what changed on the current image."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from fcn_core import FINETUNE_ITERATIONS, corrected_images

from ..dialogs.change_dialog import ChangeDialog
from ..dialogs.finetune_dialog import FineTuneDialog

if TYPE_CHECKING:
    from .correction_controller import CorrectionController

# how the report begins when Ctrl+T finds nothing corrected (closed once a correction is saved)
NOTHING_CORRECTED = "No image in "


class FolderModelOffer(QFrame):
    """A bar over the view: "This folder has its own model … [Load it] [Not now]"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("folder_model_offer")
        self.setStyleSheet("#folder_model_offer { background: #e8f0fe; border-bottom: 1px solid #aac4f0; }")
        self.text = QLabel("")
        self.text.setWordWrap(True)
        self.load_button = QPushButton("Load it")
        self.dismiss_button = QPushButton("Not now")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.load_button)
        layout.addWidget(self.dismiss_button)
        self.dismiss_button.clicked.connect(self.hide)
        self.checkpoint: Path | None = None
        self.hide()

    def offer(self, folder: Path, checkpoint: Path) -> None:
        self.checkpoint = checkpoint
        self.text.setText(f"{folder.name} has its own model, fine-tuned on its corrections: {checkpoint.name}.")
        self.show()


class FineTuneController(QObject):
    """Ctrl+T's dialog and everything after it; the offer bar when a folder with its own model is opened."""

    def __init__(self, corrections: "CorrectionController", offer: FolderModelOffer, run_all: Callable[[], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.corrections, self.c, self.offer_bar, self.run_all = corrections, corrections.c, offer, run_all
        self.dialogs: list[QWidget] = []  # kept alive while shown
        offer.load_button.clicked.connect(self._load_offered)
        # the report that nothing is corrected yet is wrong after the first saved stroke: it goes
        self.c.editor.saved.connect(lambda _path: self.c.dismiss(NOTHING_CORRECTED))

    def finetune(self, iterations: int = FINETUNE_ITERATIONS) -> FineTuneDialog | None:
        """The fine-tune dialog for the current image's folder (its settings, then Start)."""
        c = self.c
        folder = self.corrections.folder_with_saved_corrections(needs_model=True)
        if folder is None:
            return None
        # from the workspace, as the fine-tune's export reads it: the list's marks arrive after the save just made
        corrected = len(corrected_images(folder, c.editor.workspace(c.state.path)))
        if corrected == 0:  # the dialog would offer Start with nothing to train on
            c.report(f"{NOTHING_CORRECTED}{folder.name} has saved corrections yet: correct one first "
                     "(Correct → Correct labels, E), then fine-tune on it.")
            return None
        previous = c.service.engine
        dialog = FineTuneDialog(c.service, folder, corrected, iterations, c.editor.workspace(c.state.path), c.window)
        dialog.finished_with.connect(lambda result: self._use(folder, result.checkpoint))
        dialog.resegment.connect(self.run_all)
        dialog.show_changes.connect(lambda result: self.show_changes(previous, result.checkpoint))
        self._keep(dialog)
        return dialog

    def _use(self, folder: Path, checkpoint: Path) -> None:
        """Load the new model and make it this folder's own (offered when the folder is opened again)."""
        self.c.settings.set_folder_model(folder, checkpoint)
        self.offer_bar.hide()
        self.c.load_model([checkpoint])

    def show_changes(self, previous, checkpoint: Path) -> ChangeDialog | None:
        """The previous model's answer and the fine-tuned one's on the current image, and what changed."""
        c = self.c
        if c.state.path is None:
            c.report("Open an image to see what the fine-tune changed on it.")
            return None
        dialog = ChangeDialog(c.service.runner, previous, checkpoint, c.state.path,
                              str(c.service.engine.device) if c.service.engine else "auto", c.window)
        self._keep(dialog)
        return dialog

    def offer_folder_model(self, folder: Path) -> None:
        """Offer the folder's own model when one was fine-tuned for it and another model is loaded."""
        checkpoint = self.c.settings.folder_model(folder)
        if checkpoint is None or any(_same(checkpoint, w) for w in self.c.service.weights):
            return
        self.offer_bar.offer(folder, checkpoint)

    def _load_offered(self) -> None:
        if self.offer_bar.checkpoint is not None:
            self.c.load_model([self.offer_bar.checkpoint])
        self.offer_bar.hide()

    def _keep(self, dialog: QWidget) -> None:
        dialog.show()
        self.dialogs = [d for d in self.dialogs if d.isVisible()] + [dialog]


def _same(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False
