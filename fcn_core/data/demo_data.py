"""Writing generated scenes as a VOC-layout dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from ..model.palette import full_palette
from ..storage.atomic import atomic_write_bytes
from ..storage.image_io import write_label_png
from ..storage.voc_layout import VOCLayout
from .scenes import SCENE_CLASSES, SCENE_COLORS, make_scene


def write_scene_dataset(out: str | Path, count: int, seed: int | Sequence[int], split: str = "train",
                        size: tuple[int, int] = (160, 160), progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Write ``count`` scenes of series ``seed`` (of each, given several) into ``out`` (VOC layout) and list
    them all in split ``split``.

    Ids are ``s<seed>_<index>``, so several seeds can share one folder, as one split or as different ones.
    """
    seeds = [seed] if isinstance(seed, int) else list(seed)
    if count < 1:
        raise ValueError("count must be at least 1")
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"give one or more different seeds, not {seeds}")
    layout = VOCLayout(Path(out))
    layout.make_dirs()
    layout.write_classes(SCENE_CLASSES, SCENE_COLORS)
    palette = full_palette(np.array(SCENE_COLORS))
    ids = []
    for n, (seed_, i) in enumerate((s, i) for s in seeds for i in range(count)):
        scene = make_scene(seed_, i, size)
        item = f"s{seed_}_{i:05d}"
        ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(scene.image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:
            raise OSError(f"could not encode scene {item}")
        atomic_write_bytes(layout.images / f"{item}.jpg", jpg.tobytes())
        write_label_png(layout.labels / f"{item}.png", scene.labels, palette)
        ids.append(item)
        if progress:
            progress(n + 1, count * len(seeds))
    layout.write_split(split, ids)
    return ids
