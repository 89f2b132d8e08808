"""What a fine-tune changed on the current image: the previous model's answer, the new one's, and the pixels
that changed class (linked zoom and pan), with the classes that moved most."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout

from fcn_core import Engine, LabelChanges, label_changes, load_bundle, read_image

from ..views.overlay import colorize
from ..views.panes import ImagePane, PaneGrid
from ..services.tasks import JobContext, TaskRunner

CHANGED_RGBA = (230, 30, 60, 230)


def finest(variants: tuple[str, ...]) -> str:
    return next((v for v in ("8s", "16s", "32s") if v in variants), variants[-1])


class ChangeDialog(QDialog):
    """Runs the previous engine and the new checkpoint on ``image`` off the GUI thread, then shows both."""

    def __init__(self, runner: TaskRunner, previous: Engine, checkpoint: Path, image_path: Path,
                 device: str = "auto", parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"What the fine-tune changed on {image_path.name}")
        self.resize(900, 560)
        self.summary = QLabel("Running both models on this image…")
        self.summary.setWordWrap(True)
        self.grid = PaneGrid(self)
        self.panes = {key: self.grid.add_pane(ImagePane(key), 0, col, title)
                      for col, (key, title) in enumerate((("before", "previous model"), ("after", "fine-tuned"),
                                                          ("changed", "changed pixels")))}
        self.grid.equal_columns(3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.grid, 1)
        self.changes: LabelChanges | None = None
        self.image: np.ndarray | None = None
        self.classes = previous.meta.classes
        self.palette = previous.meta.palette()

        def job(ctx: JobContext) -> tuple[np.ndarray, str, np.ndarray, np.ndarray]:
            image = read_image(image_path)  # the window may be segmenting it again with the new model just now
            variant = finest(previous.variants)
            new = Engine(load_bundle([checkpoint]), device)
            if variant not in new.variants:
                variant = finest(tuple(v for v in new.variants if v in previous.variants) or new.variants)
            before = previous.predict(previous.cache_for(image), [variant])[variant].labels
            after = new.predict(new.cache_for(image), [variant])[variant].labels
            return image, variant, before, after

        self.ctx = runner.submit(job, self._show, lambda msg: self.summary.setText(f"Could not compare: {msg}"))

    def _show(self, answer: tuple[np.ndarray, str, np.ndarray, np.ndarray]) -> None:
        self.image, variant, before, after = answer
        self.changes = label_changes(before, after, len(self.classes))
        gray = self.image.mean(axis=2, keepdims=True).astype(np.uint8).repeat(3, axis=2)
        for key, labels in (("before", before), ("after", after)):
            self.panes[key].set_image(self.image, fit=True)
            self.panes[key].set_overlay(colorize(labels, self.palette))
        marks = np.zeros((*after.shape, 4), np.uint8)
        marks[self.changes.changed] = CHANGED_RGBA
        self.panes["changed"].set_image(gray, fit=True)
        self.panes["changed"].set_overlay(marks)
        moved = "; ".join(f"{name} {100 * b:.1f} % → {100 * a:.1f} %" for name, b, a in self.changes.biggest(self.classes))
        self.summary.setText(f"FCN-{variant}: {100 * self.changes.share:.1f} % of the pixels changed class"
                             + (f" (red on the right). Shares of the image: {moved}." if moved else "."))
