"""What the window shows, in one place: the model, the image and its result, the variant, the view, the
display settings and edit mode. Widgets subscribe to the signals; a setter fires only on a real change, so
no widget needs feedback guards (the role napari's ViewerModel plays)."""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, Signal

from fcn_core import ModelMeta, SkipFusion

from ..views.display import DisplaySettings
from ..services.model_service import ImageResult

VIEWS = ("single", "compare", "skips")


class WindowState(QObject):
    """The window's state; each ``set_*`` emits its ``*Changed`` signal when the value really changes."""

    modelChanged = Signal(object)    # ModelMeta | None
    pathChanged = Signal(object)     # Path | None: the image the person chose (its result may follow later)
    resultChanged = Signal(object)   # ImageResult | None: the current image's predictions
    variantChanged = Signal(str)
    viewChanged = Signal(str)
    displayChanged = Signal(object)  # DisplaySettings
    editingChanged = Signal(bool)
    fusionChanged = Signal(object)   # SkipFusion | None of the current image and variant

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.meta: ModelMeta | None = None
        self.path: Path | None = None
        self.result: ImageResult | None = None
        self.variant = "8s"
        self.view = "single"
        self.display = DisplaySettings()
        self.editing = False
        self.fusion: SkipFusion | None = None

    def _set(self, name: str, value, signal, same: Callable[[object, object], bool] = operator.eq) -> bool:
        if same(getattr(self, name), value):
            return False
        setattr(self, name, value)
        signal.emit(value)
        return True

    def set_meta(self, meta: ModelMeta | None) -> bool:
        """A new model: the result and fusion of the old one no longer apply."""
        self.meta = meta  # always fires: a reload of the same weights is a new engine
        self.set_fusion(None)
        self.set_result(None)
        if meta is not None and self.variant not in meta.variant_names:
            self.set_variant(meta.variant_names[-1])
        self.modelChanged.emit(meta)
        return True

    def set_path(self, path: Path | None) -> bool:
        path = Path(path) if path is not None else None
        if path != self.path:
            self.set_fusion(None)
        return self._set("path", path, self.pathChanged)

    def set_result(self, result: ImageResult | None) -> bool:
        return self._set("result", result, self.resultChanged, operator.is_)  # arrays inside: identity

    def set_variant(self, variant: str) -> bool:
        if self.meta is not None and variant not in self.meta.variant_names:
            return False
        if variant != self.variant and self.fusion is not None:
            self.set_fusion(None)
        return self._set("variant", variant, self.variantChanged)

    def set_view(self, view: str) -> bool:
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}")
        return self._set("view", view, self.viewChanged)

    def set_display(self, display: DisplaySettings) -> bool:
        return self._set("display", display, self.displayChanged)

    def set_editing(self, on: bool) -> bool:
        return self._set("editing", bool(on), self.editingChanged)

    def set_fusion(self, fusion: SkipFusion | None) -> bool:
        return self._set("fusion", fusion, self.fusionChanged, operator.is_)
