"""Saved corrections shown outside edit mode: read from the workspace once per image, kept until saved again."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np

from fcn_core import Workspace

CACHE_IMAGES = 4


class SavedLabelsCache:
    """An image's saved labels (mapped to the model's classes by name), or None when it has none or they
    cannot be shown under this model; the few last read are kept."""

    def __init__(self) -> None:
        self._labels: OrderedDict[Path, np.ndarray | None] = OrderedDict()

    def get(self, path: Path, workspace: Workspace, shape: tuple[int, int], classes: tuple[str, ...]) -> np.ndarray | None:
        path = Path(path)
        if path not in self._labels:
            try:
                saved = workspace.load_labels(path, shape, classes)
            except (ValueError, OSError):  # edit mode says why; the view shows the prediction
                saved = None
            self._labels[path] = saved.labels if saved is not None else None
            while len(self._labels) > CACHE_IMAGES:
                self._labels.popitem(last=False)
        self._labels.move_to_end(path)
        return self._labels[path]

    def forget(self, path: Path) -> None:
        self._labels.pop(Path(path), None)

    def clear(self) -> None:
        self._labels.clear()
