"""A folder of generated scenes whose workspace holds their exact labels, fully verified (as if corrected)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from fcn_core import Workspace
from fcn_core.labels.document import LabelDocument
from fcn_core.data.scenes import SCENE_CLASSES, SCENE_COLORS, make_scene


def corrected_scene_folder(root: Path, count: int, size: int, seed: int = 21) -> tuple[Path, Workspace]:
    """``root/photos`` with ``count`` size×size scenes and their labels saved in the workspace beside them."""
    folder = root / "photos"
    folder.mkdir()
    ws = Workspace.beside(folder)
    for i in range(count):
        scene = make_scene(seed, i, (size, size))
        Image.fromarray(scene.image).save(folder / f"s{i}.png")
        ws.save(folder / f"s{i}.png", LabelDocument(scene.labels, np.ones((size, size), bool), n_class=len(SCENE_CLASSES)),
                np.asarray(SCENE_COLORS), SCENE_CLASSES)
    return folder, ws
