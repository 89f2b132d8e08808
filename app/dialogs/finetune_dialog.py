"""Fine-tune on my corrections: settings, a loss curve and progress while it runs off the GUI thread, then
the held-out figures per class, and what to do with the new model."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QCheckBox, QDialog, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QSpinBox, QTableWidget, QTableWidgetItem, QToolButton, QVBoxLayout,
                               QWidget)

from fcn_core import FINETUNE_ITERATIONS, FINETUNE_LR

from ..services.model_service import ModelService
from ..services.tasks import JobContext

if TYPE_CHECKING:  # fcn_core.training.finetune loads torch: imported when a fine-tune starts, not with the window
    from fcn_core.training.finetune import FineTuneResult

HEADS = ("32s", "16s", "8s")


def _metrics_line(name: str, metrics: dict) -> str:
    if not metrics:
        return f"{name}: no held-out images"
    return f"{name}: " + ", ".join(f"FCN-{v} mean IU {100 * m['mean_iu']:.1f}" for v, m in metrics.items())


def worse_heads(result: "FineTuneResult") -> list[str]:
    """The heads that did worse on the held-out corrections after the fine-tune than before."""
    return [v for v in HEADS if v in result.before and v in result.after
            and result.after[v]["mean_iu"] < result.before[v]["mean_iu"]]


def _cell(before: float | None, after: float | None) -> QTableWidgetItem:
    if before is None or after is None:
        item = QTableWidgetItem("—")
    else:
        item = QTableWidgetItem(f"{100 * before:.1f} → {100 * after:.1f}")
        if abs(after - before) >= 0.0005:
            item.setForeground(QColor("#1b7f3b" if after > before else "#b3261e"))
    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled)
    return item


def before_after_table(result: "FineTuneResult", classes: tuple[str, ...]) -> QTableWidget:
    """Rows: mean IU, then each class's IU; columns: the heads; cells "before → after" on the held-out images."""
    heads = [v for v in HEADS if v in result.after]
    table = QTableWidget(1 + len(classes), len(heads))
    table.setHorizontalHeaderLabels([f"FCN-{v}" for v in heads])
    table.setVerticalHeaderLabels(["mean IU", *classes])
    for col, v in enumerate(heads):
        before, after = result.before.get(v, {}), result.after[v]
        table.setItem(0, col, _cell(before.get("mean_iu"), after["mean_iu"]))
        for c in range(len(classes)):
            b = before.get("per_class_iu", [None] * len(classes))[c]
            table.setItem(1 + c, col, _cell(b, after["per_class_iu"][c]))
    table.resizeColumnsToContents()
    table.setMinimumHeight(min(200, 30 + 24 * table.rowCount()))  # more classes scroll: the dialog must fit a laptop
    table.setMaximumHeight(30 + 24 * table.rowCount())
    return table


class StepAxis(pg.AxisItem):
    """An axis of step numbers: whole steps only (a short run would otherwise show step 2.5)."""

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 - pyqtgraph's name
        levels = super().tickValues(minVal, maxVal, size)
        return [(max(1.0, spacing), [v for v in values if float(v).is_integer()]) for spacing, values in levels]


class FineTuneDialog(QDialog):
    """Settings (steps, learning rate, verified pixels only under "Advanced"), then Start: the loss curve and
    progress, Cancel. Emits ``finished_with`` when the new model should be loaded, and ``resegment`` or
    ``show_changes`` on the buttons offered after it."""

    finished_with = Signal(object)  # FineTuneResult
    resegment = Signal()
    show_changes = Signal(object)  # FineTuneResult

    def __init__(self, service: ModelService, folder: Path, corrected: int, iterations: int = FINETUNE_ITERATIONS,
                 workspace=None, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Fine-tune on my corrections")
        self.setMinimumWidth(520)
        self.service, self.folder, self.workspace = service, folder, workspace
        self.bundle = service.engine.bundle if service.engine else None
        self.started_from = ", ".join(p.name for p in service.weights) or None
        self.result: FineTuneResult | None = None
        self.ctx: JobContext | None = None
        self.corrected = corrected
        n_held = max(1, int(round(0.2 * corrected)))  # the export's val fraction
        held = f"{n_held} {'is' if n_held == 1 else 'are'} held out to measure before and after"
        self.intro = QLabel(
            f"Trains the loaded model further on the {corrected} corrected image{'s' * (corrected != 1)} of "
            f"{folder.name}; {held if corrected > 1 else 'with one image nothing can be held out to measure'}. "
            "The new model is saved beside your corrections and used from then on (offered again when you "
            "reopen this folder); the one you have stays on disk (Model → Load weights… brings it back).")
        self.intro.setWordWrap(True)
        self.steps = QSpinBox()
        self.steps.setRange(1, 100_000)
        self.steps.setValue(iterations)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(5)
        self.lr.setRange(0.00001, 0.1)
        self.lr.setSingleStep(0.0001)
        self.lr.setValue(FINETUNE_LR)
        self.only_verified = QCheckBox("Train on verified pixels only")
        self.only_verified.setToolTip("By default the unverified pixels of a saved image train as they are")
        # a disclosure arrow, not a checkable group box (folded, that is an empty frame): the defaults are the
        # recipe scripts/bench_finetune.py measured, so the settings stay out of sight until asked for
        self.advanced = QToolButton()
        self.advanced.setText("Advanced")
        self.advanced.setCheckable(True)
        self.advanced.setAutoRaise(True)
        self.advanced.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_body = QWidget()
        form = QFormLayout(self.advanced_body)
        form.setContentsMargins(18, 0, 0, 0)
        form.addRow("Steps", self.steps)
        form.addRow("Learning rate", self.lr)
        form.addRow(self.only_verified)
        self.advanced.toggled.connect(self._fold)
        self.advanced_body.setVisible(False)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.plot = pg.PlotWidget(background="w", axisItems={"bottom": StepAxis(orientation="bottom")})
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss")
        self.plot.setMinimumHeight(160)
        self.plot.setMaximumHeight(240)  # its own size hint is a 640×480 canvas: the dialog must fit a laptop
        self.plot.setVisible(False)
        self.curve = self.plot.plot(pen=pg.mkPen("#1565c0", width=1.5))
        self.losses: list[float] = []
        self.table: QTableWidget | None = None
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Close")
        self.cancel_button.clicked.connect(self.reject)
        self.resegment_button = QPushButton("Re-segment the folder with it")
        self.changes_button = QPushButton("Show what changed on this image")
        self.use_anyway = QPushButton("Load the new model anyway")
        self.resegment_button.clicked.connect(self.resegment.emit)
        self.changes_button.clicked.connect(lambda: self.result is not None and self.show_changes.emit(self.result))
        self.use_anyway.clicked.connect(self._use_anyway)
        self.buttons = QHBoxLayout()
        for b in (self.resegment_button, self.changes_button, self.use_anyway):
            b.setVisible(False)
            self.buttons.addWidget(b)
        self.buttons.addStretch(1)
        self.buttons.addWidget(self.start_button)
        self.buttons.addWidget(self.cancel_button)
        self.body = QVBoxLayout(self)
        for w in (self.intro, self.advanced, self.advanced_body, self.progress, self.label, self.plot):
            self.body.addWidget(w)
        self.body.addLayout(self.buttons)
        if self.bundle is None:
            self.label.setText("No model is loaded.")
            self.start_button.setEnabled(False)

    def _fold(self, open_: bool) -> None:
        self.advanced.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)
        self.advanced_body.setVisible(open_)
        self._fit()

    def start(self) -> None:
        """Run the fine-tune with the settings shown (the Start button)."""
        if self.bundle is None or self.ctx is not None:
            return
        bundle, folder, workspace = self.bundle, self.folder, self.workspace
        steps, lr, only_verified = self.steps.value(), self.lr.value(), self.only_verified.isChecked()
        started_from = self.started_from

        def job(ctx: JobContext) -> FineTuneResult:
            from fcn_core.training.finetune import finetune_on_corrections

            return finetune_on_corrections(bundle, folder, steps, lr=lr, workspace=workspace, only_verified=only_verified,
                                           started_from=started_from, save_unchanged=False,
                                           progress=lambda s, n, loss: ctx.progress(s, n, f"{loss:.6g}"))

        self.advanced.setVisible(False)  # the settings go into the status line, the curve takes their place
        self.advanced_body.setVisible(False)
        self.start_button.setVisible(False)
        self.progress.setRange(0, steps)
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.plot.setVisible(True)
        self._fit()  # room for the curve: grown later, it would lie under the buttons
        self.label.setText("Exporting the corrections and measuring the model on the held-out ones…" if self.corrected > 1
                           else "Exporting the correction…")
        self.cancel_button.setText("Cancel")
        self.cancel_button.clicked.disconnect()
        self.ctx = self.service.runner.submit(job, self._done, self._failed, self._progress, self._cancelled)
        self.cancel_button.clicked.connect(self.ctx.cancel)

    def _progress(self, step: int, total: int, loss: str) -> None:
        self.progress.setMaximum(total)
        self.progress.setValue(step)
        self.losses.append(float(loss))
        self.label.setText(f"Training step {step}/{total}, loss {float(loss):.4f} (learning rate {self.lr.value():g})")
        if step == total or step % max(1, total // 100) == 0:  # a hundred redraws in a run, not one per step
            self.curve.setData(range(1, len(self.losses) + 1), self.losses)

    def _done(self, result: FineTuneResult) -> None:
        self.result = result
        self.curve.setData(range(1, len(result.losses) + 1), result.losses)
        unchanged = bool(result.checks) and result.kept_step == 0  # the start won the held-out checks
        if unchanged:
            text = (f"No check beat the model you had on your held-out corrections ({result.seconds:.0f} s), so the "
                    f"fine-tune changed nothing: nothing was saved and the model you had stays loaded.\n"
                    f"{_metrics_line('held-out', result.before)}")
        else:
            text = (f"Saved {result.checkpoint.name} ({result.seconds:.0f} s; the weights of step {result.kept_step} of "
                    f"{result.iterations} kept).\n{_metrics_line('before', result.before)}\n"
                    f"{_metrics_line('after', result.after)}")
        if not result.after:
            text += ("\nWith one corrected image nothing is held out, so there is no before/after measure: "
                     "correct a second image to get one.")
        self._closable(self.accept)
        worse = worse_heads(result)
        if result.after and self.bundle is not None:
            self.table = before_after_table(result, self.bundle.meta.classes)
            caption = QLabel("Held-out corrections, IU before → after:")
            self.body.insertWidget(self.body.count() - 1, caption)
            self.body.insertWidget(self.body.count() - 1, self.table, 1)  # the table, not the lines, takes any spare height
            caption.show()  # now, not when the event loop gets to it: _fit must count them
            self.table.show()
        if unchanged:
            # the guard kept the start: nothing was saved, and nothing is swapped in
            perfect = all(m["mean_iu"] >= 0.9995 for m in result.before.values())
            self.label.setText(text + (
                "\nThe model already scored 100 on your held-out corrections: they are what it predicted, so "
                "nothing could beat it there. Correct the model's mistakes in more images." if perfect else
                "\nMore corrected images, or more steps under Advanced, give it more to learn from."))
        elif worse:
            # a model that does worse on the person's own held-out corrections is not swapped in behind their back
            heads = ", ".join(f"FCN-{v}" for v in worse)
            self.label.setText(f"{text}\n{heads} did worse on your held-out corrections. The model you had stays "
                               "loaded; the new one is saved beside your images if you want it anyway.")
            self.use_anyway.setVisible(True)
        else:
            self.label.setText(text)
            self._loaded()
        self._fit()

    def _fit(self) -> None:
        """Grown with its results, the dialog takes the height its contents need (its wrapped lines included:
        ``adjustSize`` stops at two thirds of the screen and the table then slid under the buttons), at most
        the screen's, its table scrolling, and moves up to stay on the screen."""
        layout = self.layout()
        layout.activate()
        need = max(layout.totalSizeHint().height(), layout.totalMinimumSize().height(),
                   layout.totalHeightForWidth(self.width()) if layout.hasHeightForWidth() else 0)
        screen = self.screen().availableGeometry() if self.screen() else None
        extra = self.frameGeometry().height() - self.height()
        if screen is not None:
            need = min(need, screen.height() - extra)
        self.resize(max(self.width(), layout.totalSizeHint().width()), need)
        if screen is None:
            return
        frame = self.frameGeometry()
        if frame.bottom() > screen.bottom() or frame.top() < screen.top():
            self.move(frame.left(), max(screen.top(), screen.bottom() - frame.height()))

    def _loaded(self) -> None:
        self.resegment_button.setVisible(True)
        self.changes_button.setVisible(True)
        if self.result is not None:
            self.finished_with.emit(self.result)

    def _use_anyway(self) -> None:
        self.use_anyway.setVisible(False)
        self._loaded()

    def _failed(self, message: str) -> None:
        self.label.setText(f"Fine-tuning failed: {message}")
        self._closable(self.reject)
        self._fit()

    def _cancelled(self) -> None:
        self.label.setText("Cancelled; the loaded model is unchanged and nothing was saved.")
        self._closable(self.reject)

    def _closable(self, slot) -> None:
        self.cancel_button.setText("Close")
        self.cancel_button.clicked.disconnect()
        self.cancel_button.clicked.connect(slot)
