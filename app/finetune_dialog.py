"""Fine-tune on my corrections: a progress dialog around fcn_core.training.finetune, off the GUI thread."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QLabel, QProgressBar, QPushButton, QVBoxLayout

from fcn_core import FINETUNE_ITERATIONS

from .model_service import ModelService
from .tasks import JobContext

if TYPE_CHECKING:  # fcn_core.training.finetune loads torchvision: imported when a fine-tune starts, not with the window
    from fcn_core.training.finetune import FineTuneResult


def _metrics_line(name: str, metrics: dict) -> str:
    if not metrics:
        return f"{name}: no held-out images"
    return f"{name}: " + ", ".join(f"FCN-{v} mean IU {100 * m['mean_iu']:.1f}" for v, m in metrics.items())


def _worse_finest(result: "FineTuneResult") -> str:
    """A sentence when the finest head held out did worse after the fine-tune than before; "" otherwise."""
    common = [v for v in ("8s", "16s", "32s") if v in result.before and v in result.after]
    if not common:
        return ""
    v = common[0]
    before, after = 100 * result.before[v]["mean_iu"], 100 * result.after[v]["mean_iu"]
    return f"FCN-{v} did worse on your held-out corrections ({before:.1f} → {after:.1f} mean IU)." \
        if after < before else ""


class FineTuneDialog(QDialog):
    """Runs the fine-tune, shows step and loss, cancels on request; emits ``finished_with`` on success."""

    finished_with = Signal(object)  # FineTuneResult

    def __init__(self, service: ModelService, folder: Path, iterations: int = FINETUNE_ITERATIONS, workspace=None, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fine-tune on my corrections")
        self.setMinimumWidth(460)
        self.progress = QProgressBar()
        self.progress.setRange(0, iterations)
        self.label = QLabel("Exporting the corrections…")
        self.label.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel")
        self.use_anyway = QPushButton("Load the new model anyway")
        self.use_anyway.setVisible(False)
        self.use_anyway.clicked.connect(self._use_anyway)
        layout = QVBoxLayout(self)
        for w in (self.label, self.progress, self.use_anyway, self.cancel_button):
            layout.addWidget(w)
        self.result: FineTuneResult | None = None
        bundle = service.engine.bundle if service.engine else None
        if bundle is None:
            self.label.setText("No model is loaded.")
            return

        def job(ctx: JobContext) -> FineTuneResult:
            from fcn_core.training.finetune import finetune_on_corrections

            return finetune_on_corrections(bundle, folder, iterations, workspace=workspace,
                                           progress=lambda s, n, loss: ctx.progress(s, n, f"loss {loss:.4f}"))

        self.ctx = service.runner.submit(job, self._done, self._failed, self._progress, self._cancelled)
        self.cancel_button.clicked.connect(self.ctx.cancel)

    def _progress(self, step: int, total: int, text: str) -> None:
        self.progress.setMaximum(total)
        self.progress.setValue(step)
        self.label.setText(f"Training step {step}/{total}, {text}")

    def _done(self, result: FineTuneResult) -> None:
        self.result = result
        text = (f"Saved {result.checkpoint.name}.\n{_metrics_line('before', result.before)}\n"
                f"{_metrics_line('after', result.after)}")
        worse = _worse_finest(result)
        self.cancel_button.setText("Close")
        self.cancel_button.clicked.disconnect()
        self.cancel_button.clicked.connect(self.accept)
        if worse:
            # a model that does worse on the person's own held-out corrections is not swapped in behind their back
            self.label.setText(f"{text}\n{worse} The model you had stays loaded; the new one is saved beside "
                               "your images if you want it anyway.")
            self.use_anyway.setVisible(True)
        else:
            self.label.setText(text)
            self.finished_with.emit(result)
        self.adjustSize()

    def _use_anyway(self) -> None:
        self.use_anyway.setEnabled(False)
        if self.result is not None:
            self.finished_with.emit(self.result)
        self.accept()

    def _failed(self, message: str) -> None:
        self.label.setText(f"Fine-tuning failed: {message}")
        self._closable()
        self.adjustSize()

    def _cancelled(self) -> None:
        self.label.setText("Cancelled; the loaded model is unchanged.")
        self._closable()

    def _closable(self) -> None:
        self.cancel_button.setText("Close")
        self.cancel_button.clicked.disconnect()
        self.cancel_button.clicked.connect(self.reject)
