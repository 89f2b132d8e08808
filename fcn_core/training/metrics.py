"""The paper's segmentation metrics (§5), from a confusion matrix."""

from __future__ import annotations

import warnings

import numpy as np

from ..model.palette import VOID


def confusion_matrix(truth: np.ndarray, pred: np.ndarray, n_class: int) -> np.ndarray:
    """n_class×n_class counts n_ij of pixels of class i predicted j; void (255) and out-of-range truth ignored."""
    truth = np.asarray(truth).ravel().astype(np.int64)
    pred = np.asarray(pred).ravel().astype(np.int64)
    keep = (truth != VOID) & (truth >= 0) & (truth < n_class)
    idx = n_class * truth[keep] + np.clip(pred[keep], 0, n_class - 1)
    return np.bincount(idx, minlength=n_class * n_class).reshape(n_class, n_class)


def scores_from_confusion(hist: np.ndarray) -> dict:
    """pixel accuracy, mean accuracy, mean IU, frequency-weighted IU and per-class IU.

    Classes absent from both truth and prediction have no IU (NaN) and are left out of the means,
    as in the authors' evaluation code.
    """
    hist = np.asarray(hist, dtype=np.float64)
    tp = np.diag(hist)
    t = hist.sum(1)
    union = t + hist.sum(0) - tp
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        acc = tp / t
        iu = tp / union
        total = hist.sum()
        freq = t / total if total else np.zeros_like(t)
        return {
            "pixel_acc": float(tp.sum() / total) if total else float("nan"),
            "mean_acc": float(np.nanmean(acc)),
            "mean_iu": float(np.nanmean(iu)),
            "fw_iu": float((freq[freq > 0] * iu[freq > 0]).sum()),
            "per_class_iu": [None if np.isnan(v) else float(v) for v in iu],
        }


def mean_ious(hists: np.ndarray) -> np.ndarray:
    """The mean IU of each of a stack of confusion matrices (…×n×n) at once, as :func:`scores_from_confusion`
    counts it (classes absent from truth and prediction left out); NaN where no class is present."""
    hists = np.asarray(hists, dtype=np.float64)
    tp = np.diagonal(hists, axis1=-2, axis2=-1)
    union = hists.sum(-1) + hists.sum(-2) - tp
    present = union > 0
    iu = np.where(present, tp / np.where(present, union, 1), 0.0)
    return np.where(present.any(-1), iu.sum(-1) / np.maximum(present.sum(-1), 1), np.nan)
