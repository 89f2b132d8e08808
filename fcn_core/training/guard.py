"""Whether a fine-tune's held-out check may replace the model it started from.

A fifth of a handful of corrected images is held out: four images of twenty. Their mean IU moves by a point
or two with which four they happen to be, so "better on the four" can be luck. A check passes only if no
head is worse than at the start on the held-out set, and no head is worse in most of its bootstrap
resamples either (the same images drawn again with replacement, a head's confusion matrices summed): a gain
that rests on one image of the four does not pass.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .config import FINETUNE_GUARD_RESAMPLES, FINETUNE_GUARD_SHARE
from .metrics import mean_ious


@lru_cache(maxsize=8)
def _resample_counts(images: int, draws: int) -> np.ndarray:
    """draws×images: how often each image is drawn in each resample (a fixed generator: the same answer every
    time, on every rank; the same for every head and check of a run)."""
    picks = np.random.default_rng(0).integers(0, images, (draws, images))
    counts = np.stack([np.bincount(p, minlength=images) for p in picks])
    counts.flags.writeable = False
    return counts


def share_not_worse(check: np.ndarray, start: np.ndarray, draws: int = FINETUNE_GUARD_RESAMPLES) -> float:
    """The share of ``draws`` resamples of the images in which one head's mean IU at ``check`` is at least its
    start's; both are images×n×n stacks."""
    images = len(start)
    if images < 2:  # one image: judged as it is
        return float(mean_ious(check.sum(0)) >= mean_ious(start.sum(0)) - 1e-9)
    counts = _resample_counts(images, draws)
    diff = mean_ious(np.einsum("di,ijk->djk", counts, check)) - mean_ious(np.einsum("di,ijk->djk", counts, start))
    return float(np.mean(diff >= -1e-9))


def not_worse(check: dict[str, np.ndarray], start: dict[str, np.ndarray], draws: int = FINETUNE_GUARD_RESAMPLES,
              share: float = FINETUNE_GUARD_SHARE) -> bool:
    """``check`` and ``start``: each head's per-image confusion matrices (images×n×n) on the held-out
    corrections. True when no head is worse than at the start on them all, nor in more than 1 − ``share``
    of ``draws`` resamples of the images."""
    return all(mean_ious(check[v].sum(0)) >= mean_ious(start[v].sum(0)) - 1e-9
               and share_not_worse(check[v], start[v], draws) >= share for v in start)
