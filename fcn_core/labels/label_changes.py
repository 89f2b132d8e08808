"""What another model changed on an image: which pixels changed class, and each class's share before and after."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .class_shares import class_fractions


@dataclass(frozen=True)
class LabelChanges:
    """``changed`` marks the pixels whose class differs; shares are per class (0–1) of the whole image."""

    changed: np.ndarray  # H×W bool
    share: float  # of the pixels, those that changed
    before: np.ndarray  # n_class shares
    after: np.ndarray

    def biggest(self, classes: tuple[str, ...], count: int = 4) -> list[tuple[str, float, float]]:
        """The ``count`` classes whose share moved most: (name, before, after), largest move first."""
        order = np.argsort(-np.abs(self.after - self.before), kind="stable")[:count]
        return [(classes[i], float(self.before[i]), float(self.after[i])) for i in order
                if self.after[i] != self.before[i]]


def label_changes(before: np.ndarray, after: np.ndarray, n_class: int) -> LabelChanges:
    """Compare two label maps of one image (the previous model's and the new one's)."""
    if before.shape != after.shape:
        raise ValueError(f"the label maps differ in size: {before.shape} and {after.shape}")
    changed = before != after
    return LabelChanges(changed, float(changed.mean()) if changed.size else 0.0,
                        class_fractions(before, n_class), class_fractions(after, n_class))
