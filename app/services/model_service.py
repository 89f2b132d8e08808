"""The GUI's one door to the model: loads weights, analyses images and folders off the GUI thread."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6.QtCore import QObject, Signal

from fcn_core import (Engine, ImageCache, ModelMeta, Prediction, SkipFusion, class_fractions, load_bundle, read_image,
                      tune_process, uncertainty_of)

from .tasks import JobContext, TaskRunner


@dataclass(frozen=True)
class ImageResult:
    """An opened image and every variant's prediction on it."""

    path: Path
    image: np.ndarray
    predictions: dict[str, Prediction]
    fractions: dict[tuple[str, int], np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def class_fractions(self, variant: str, n_class: int) -> np.ndarray:
        """Share of pixels per class of one variant, counted once (the service counts them off the GUI thread)."""
        key = (variant, n_class)
        if key not in self.fractions:
            self.fractions[key] = class_fractions(self.predictions[variant].labels, n_class)
        return self.fractions[key]


class ModelService(QObject):
    """Owns the engine and a small cache of analysed images; all heavy work goes through ``runner``."""

    modelChanged = Signal(object)           # ModelMeta
    modelFailed = Signal(str)               # why the weights could not be loaded (the old model stays)
    imageShown = Signal(object, object)     # Path, H×W×3 image: read, labels still to come
    imageProgress = Signal(object, int, int)  # Path, tiles done, tiles in all (big images only)
    imageReady = Signal(object)             # ImageResult
    imageFailed = Signal(object, str)       # Path, why it could not be opened
    imageCancelled = Signal(object)         # Path
    fusionReady = Signal(object, object)    # Path, SkipFusion
    failed = Signal(str)
    notice = Signal(str)                    # the engine changed course (out of memory: tiles, CPU)
    folderProgress = Signal(int, int, str)  # done, total, current file
    folderDone = Signal(int, int)           # analysed, failed (-1, -1: cancelled)
    uncertaintyReady = Signal(object, object)  # Path, Uncertainty: how unsure the model is (folder run)
    folderEnded = Signal()                  # the folder run is over: done, cancelled or failed

    CACHE_SIZE = 6

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = TaskRunner(self)
        self.engine: Engine | None = None
        self._analyses: OrderedDict[tuple[int, Path], ImageCache] = OrderedDict()  # (id(engine), path)
        self._folder_job: JobContext | None = None
        self._open_job: tuple[Path, JobContext] | None = None
        self.weights: list[Path] = []
        self.at_once = False

    @property
    def meta(self) -> ModelMeta | None:
        return self.engine.meta if self.engine else None

    # model -----------------------------------------------------------------------------------
    def load_model(self, paths: list[Path], device: str = "auto", at_once: bool = False) -> None:
        def job(ctx: JobContext) -> Engine:
            tune_process(device)
            return Engine(load_bundle(paths, at_once), device)

        def done(engine: Engine) -> None:
            engine.on_notice = self.notice.emit  # emitted from the worker thread, delivered on the GUI thread
            self.engine = engine
            self.weights = list(paths)
            self.at_once = at_once
            self._analyses.clear()
            self.modelChanged.emit(engine.meta)

        self.runner.submit(job, done, self.modelFailed.emit)

    def set_device(self, device: str) -> None:
        """Reload the current weights on another device."""
        if self.weights:
            self.load_model(self.weights, device, self.at_once)

    # images ----------------------------------------------------------------------------------
    def _analysis(self, path: Path, engine: Engine, shown: Callable[[np.ndarray], None] | None = None) -> ImageCache:
        """The cache of ``path`` by ``engine`` (a job keeps the engine it was queued with); ``shown`` gets the
        image as soon as it is read."""
        key = (id(engine), path)
        if key in self._analyses:
            self._analyses.move_to_end(key)
            return self._analyses[key]
        image = read_image(path)
        if shown is not None:
            shown(image)
        analysis = engine.cache_for(image)
        self._analyses[key] = analysis
        while len(self._analyses) > self.CACHE_SIZE:
            self._analyses.popitem(last=False)
        return analysis

    def cached(self, path: Path) -> ImageResult | None:
        """The result for ``path`` if every variant is already computed (no work, no thread)."""
        a = self._analyses.get((id(self.engine), Path(path)))
        if a is None or self.engine is None or set(a.predictions) != set(self.engine.variants):
            return None
        return ImageResult(Path(path), a.image, dict(a.predictions))

    def open_image(self, path: Path) -> None:
        """Read and segment one image (all variants): ``imageShown`` as soon as it is read, ``imageProgress``
        per tile on big images, then ``imageReady`` (or ``imageFailed``). Opening another image cancels this
        one's segmentation if it is still running."""
        if self.engine is None:
            self.failed.emit("No model is loaded.")
            return
        self.cancel_open()
        engine = self.engine
        path = Path(path)

        def job(ctx: JobContext) -> ImageResult:
            ctx.check()
            analysis = self._analysis(path, engine, lambda image: ctx.emit(self.imageShown, path, image))
            preds = engine.predict(analysis, progress=lambda done, total: (
                ctx.emit(self.imageProgress, path, done, total), ctx.check()))
            result = ImageResult(path, analysis.image, preds)
            for variant in result.predictions:
                result.class_fractions(variant, engine.meta.n_class)
            return result

        def summaries(ctx: JobContext) -> None:  # confidence and entropy maps, after the image is shown
            analysis = self._analyses.get((id(engine), path))  # never re-reads an evicted image
            for pred in reversed(list(analysis.predictions.values()) if analysis else []):  # finest first
                pred.materialize()

        def ended() -> None:
            if self._open_job is not None and self._open_job[1] is ctx:
                self._open_job = None

        ctx = self.runner.submit(job, lambda r: (ended(), self.imageReady.emit(r)),
                                 lambda msg: (ended(), self.imageFailed.emit(path, msg)),
                                 on_cancel=lambda: (ended(), self.imageCancelled.emit(path)))
        self._open_job = (path, ctx)
        self.runner.submit(summaries)

    @property
    def opening(self) -> Path | None:
        """The image being read or segmented now, if any."""
        return self._open_job[0] if self._open_job is not None else None

    def cancel_open(self) -> None:
        """Stop segmenting the image being opened (at its next tile)."""
        if self._open_job is not None:
            self._open_job[1].cancel()
            self._open_job = None

    def request_fusion(self, path: Path, variant: str) -> None:
        """Skip-fusion steps of one variant on an opened image; emits fusionReady."""
        if self.engine is None:
            return
        engine = self.engine
        path = Path(path)

        def job(ctx: JobContext) -> SkipFusion:
            return engine.fusion(self._analysis(path, engine), variant)

        self.runner.submit(job, lambda f: self.fusionReady.emit(path, f), lambda msg: self.failed.emit(msg))

    def run_folder(self, paths: list[Path]) -> None:
        """Analyse many images with progress; cancellable with :meth:`cancel_folder`."""
        if self.engine is None:
            self.failed.emit("No model is loaded.")
            self.folderEnded.emit()
            return
        engine = self.engine

        def job(ctx: JobContext) -> tuple[int, int]:
            ok = bad = 0
            for i, path in enumerate(paths):
                ctx.progress(i, len(paths), path.name)
                try:
                    analysis = self._analysis(path, engine)
                    unsure = uncertainty_of(engine.predict(analysis))
                    analysis.release_features()
                    self.uncertaintyReady.emit(path, unsure)  # queued to the GUI thread
                    ok += 1
                except ValueError:
                    bad += 1
            ctx.progress(len(paths), len(paths), "")
            return ok, bad

        def finished(result: tuple[int, int]) -> None:
            self._folder_job = None
            self.folderDone.emit(*result)
            self.folderEnded.emit()

        def cancelled() -> None:
            self._folder_job = None
            self.folderDone.emit(-1, -1)
            self.folderEnded.emit()

        def failed(message: str) -> None:
            self._folder_job = None
            self.failed.emit(message)
            self.folderEnded.emit()

        self._folder_job = self.runner.submit(job, finished, failed, self.folderProgress.emit, cancelled)

    @property
    def folder_running(self) -> bool:
        return self._folder_job is not None

    def cancel_folder(self) -> None:
        if self._folder_job is not None:
            self._folder_job.cancel()
