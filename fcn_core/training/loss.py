"""The training loss: each head's per-pixel cross-entropy (void ignored), a mean over the labelled pixels, summed
over the heads; the same for one process and for the ranks of a distributed run.

In a distributed run each rank holds a part of the global batch and DistributedDataParallel averages the
ranks' gradients. A mean per rank would weigh each pixel by one over *its rank's* labelled pixels, so a rank
whose crops hold more void would count for more than one process with the whole batch gives it. Each rank
instead divides its summed loss by the labelled pixels of the whole global batch (one all-reduce of a scalar)
and multiplies by the number of ranks, which DDP's average divides by again: the gradient is exactly that of
one mean over the global batch. With class weights, a pixel counts its class's weight (as in
``F.cross_entropy``'s own weighted mean).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
from torch.nn import functional as F

from .. import distributed
from ..model.palette import VOID


def labelled_weight(labels: torch.Tensor, class_weights: torch.Tensor | None = None) -> torch.Tensor | None:
    """What the mean divides by, over the global batch: the labelled pixels (or their class weights) of every
    rank's part. None when there are none, for an all-void batch teaches nothing (and its mean is NaN)."""
    if not distributed.current().distributed:
        return None if not (labels != VOID).any() else torch.ones((), device=labels.device)
    keep = labels != VOID
    mine = (class_weights[labels[keep]].sum() if class_weights is not None else keep.sum()).to(torch.float64)
    total = distributed.all_reduce_sum(mine)
    return total if total.item() > 0 else None


def mean_loss(outs: dict[str, torch.Tensor], labels: torch.Tensor, total: torch.Tensor,
              class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Σ over heads of the mean cross-entropy over the global batch's labelled pixels (``total`` from
    :func:`labelled_weight`); in one process exactly ``F.cross_entropy``'s mean, as before."""
    world = distributed.current()
    if not world.distributed:
        return sum(F.cross_entropy(o.float(), labels, weight=class_weights, ignore_index=VOID) for o in outs.values())
    summed = sum(F.cross_entropy(o.float(), labels, weight=class_weights, ignore_index=VOID, reduction="sum")
                 for o in outs.values())
    return summed * (world.size / total.to(summed.dtype))


def global_loss(loss: torch.Tensor) -> float:
    """The loss of the whole global batch (the mean of the ranks' scaled losses), the same on every rank."""
    size = distributed.current().size
    return float(distributed.all_reduce_sum(loss.detach().float())) / size


def balanced_weights(label_maps: Iterable[np.ndarray], n_class: int) -> torch.Tensor:
    """sqrt(median frequency / frequency) per class over ``label_maps`` (void and out-of-range values
    ignored), clipped to [0.1, 10]; classes absent from them weigh 1. Thin, rare classes then count for
    more than their pixels, which is what a mean IU over classes rewards."""
    counts = np.zeros(n_class, np.float64)
    for labels in label_maps:
        counts += np.bincount(labels[labels < n_class].ravel(), minlength=n_class)[:n_class]
    freq = counts / max(counts.sum(), 1)
    present = freq > 0
    w = np.ones(n_class)
    if present.any():
        w[present] = np.sqrt(np.median(freq[present]) / freq[present])
    return torch.tensor(np.clip(w, 0.1, 10.0), dtype=torch.float32)
