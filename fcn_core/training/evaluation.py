"""Evaluating a bundle on a VOC-layout split with the paper's metrics.

In a distributed run each rank scores its share of the images (``ids[rank::ranks]``) and the confusion matrices,
integer counts, are summed over the ranks: the figures equal a one-process run's exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from .. import distributed
from ..data.voc_dataset import VOCSegmentationFolder
from ..inference.engine import Engine
from ..model.palette import VOID
from .metrics import confusion_matrix, scores_from_confusion


def evaluate(engine: Engine, data: str | Path, split: str = "val", variants: list[str] | None = None,
             progress: Callable[[int, int], None] | None = None) -> dict[str, dict]:
    """Metrics per variant: pixel_acc, mean_acc, mean_iu, fw_iu, per_class_iu. ``progress(done, total)`` counts
    this rank's share in a distributed run."""
    dataset = VOCSegmentationFolder(data, split)
    if not len(dataset):
        raise ValueError(f"split {split!r} of {data} is empty")
    variants = list(variants or engine.variants)
    n = engine.meta.n_class
    hist = {v: np.zeros((n, n), np.int64) for v in variants}
    mine = distributed.share(list(range(len(dataset))))
    for done, i in enumerate(mine, 1):
        image, labels = dataset.load(i)
        beyond = (labels >= n) & (labels != VOID)
        if beyond.any():  # counting them as nothing would quietly flatter (or sink) every figure
            raise ValueError(f"{dataset.ids[i]}.png of {data} holds class values up to {int(labels[beyond].max())}, "
                             f"beyond this model's {n} classes (0–{n - 1}, 255 void)")
        for v, pred in engine.predict(engine.cache_for(image), variants).items():
            hist[v] += confusion_matrix(labels, pred.labels, n)
        if progress:
            progress(done, len(mine))
    return {v: scores_from_confusion(distributed.sum_over_ranks(h)) for v, h in hist.items()}


def metrics_table(results: dict[str, dict], classes: tuple[str, ...]) -> str:
    """A Markdown table: one row per variant, then per-class IU."""
    variants = list(results)
    lines = ["| metric | " + " | ".join(f"FCN-{v}" for v in variants) + " |",
             "|---|" + "---:|" * len(variants)]
    for key, label in (("pixel_acc", "pixel accuracy"), ("mean_acc", "mean accuracy"), ("mean_iu", "mean IU"),
                       ("fw_iu", "f.w. IU")):
        lines.append(f"| {label} | " + " | ".join(f"{100 * results[v][key]:.1f}" for v in variants) + " |")
    for c, name in enumerate(classes):
        cells = []
        for v in variants:
            iu = results[v]["per_class_iu"][c]
            cells.append("—" if iu is None else f"{100 * iu:.1f}")
        lines.append(f"| IU {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
