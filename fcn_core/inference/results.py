"""What the engine hands out: frozen results named after the paper's layers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..labels.class_shares import class_fractions
from ..memory import ensure_fits
from ..model.architecture import GRID_ORIGIN
from .confidence import margin_and_entropy


@dataclass(frozen=True)
class ScoreMap:
    """One class-score map at its native stride, placed over the image.

    Cell (i, j) is centred at image pixel (origin + stride*j, origin + stride*i); stride 1 maps are
    image-aligned (origin 0).
    """

    name: str
    stride: int
    values: np.ndarray  # C×h×w float32

    @property
    def origin(self) -> float:
        return GRID_ORIGIN.get(self.stride, 0.0)

    def extent(self) -> tuple[float, float, float, float]:
        """(x, y, width, height) in image pixels covered by the map's cells."""
        h, w = self.values.shape[-2:]
        x0 = self.origin - self.stride / 2 if self.stride > 1 else 0.0
        return (x0, x0, w * self.stride, h * self.stride)


@dataclass(frozen=True)
class SkipFusion:
    """The skip architecture of one variant on one image.

    ``steps`` holds score_fr (conv7 scores, stride 32), score_pool4c (16), score_pool3c (8), upscore2,
    fuse_pool4, upscore_pool4, fuse_pool3 and final, as the variant has them. ``contributions`` holds
    the final scores split by source (conv7, pool4, pool3), summing to ``steps['final']``.
    """

    variant: str
    steps: dict[str, ScoreMap]
    contributions: dict[str, np.ndarray]


@dataclass(frozen=True, eq=False)
class Prediction:
    """One variant's answer on one image: labels and scores; confidence and entropy on first use.

    ``score_source`` is the C×H×W scores or a function returning them: the engine hands out the
    labels at once and copies the scores from the device only when something reads ``scores``
    (labels alone are 1/(4C) of the bytes: on a GPU the copy would cost more than the net)."""

    variant: str
    labels: np.ndarray      # H×W uint8 class indices
    score_source: np.ndarray | Callable[[], np.ndarray]

    @property
    def scores(self) -> np.ndarray:
        """C×H×W final class scores (logits): float32, float16 for tiled images."""
        scores = self.__dict__.get("_scores")
        if scores is None:  # two threads may both fetch them: the same values, harmlessly
            source = self.score_source
            scores = source() if callable(source) else source
            self.__dict__["_scores"] = scores
            object.__setattr__(self, "score_source", scores)  # let the device copy go
        return scores

    @property
    def _maps(self) -> tuple[np.ndarray, np.ndarray]:
        # cached by hand: functools.cached_property holds one lock for every instance on Python 3.11,
        # so the GUI thread would wait for a worker computing another prediction's maps
        maps = self.__dict__.get("_summary")
        if maps is None:  # two threads may both compute it: the same result, harmlessly
            h, w = self.labels.shape
            # two float32 maps, and the softmax's float32 working copy of the scores
            ensure_fits(h * w * 4 * (2 + self.scores.shape[0]), f"the confidence and entropy of a {w}×{h} image")
            maps = margin_and_entropy(self.scores)
            self.__dict__["_summary"] = maps
        return maps

    @property
    def confidence(self) -> np.ndarray:
        """H×W float32: top-1 minus top-2 softmax probability."""
        return self._maps[0]

    @property
    def entropy(self) -> np.ndarray:
        """H×W float32: softmax entropy in nats."""
        return self._maps[1]

    def pixel_summary(self, y: int, x: int) -> tuple[float, float]:
        """(confidence, entropy) at one pixel, from its scores alone when the maps are not computed yet."""
        if "_summary" in self.__dict__:
            return float(self.confidence[y, x]), float(self.entropy[y, x])
        m, e = margin_and_entropy(self.scores[:, y : y + 1, x : x + 1])
        return float(m[0, 0]), float(e[0, 0])

    def materialize(self) -> "Prediction":
        """Compute confidence and entropy now (call off the GUI thread); returns self."""
        _ = self._maps
        return self

    @property
    def shape(self) -> tuple[int, int]:
        return self.labels.shape  # type: ignore[return-value]

    def class_fractions(self, n_class: int) -> np.ndarray:
        """Share of pixels per class."""
        return class_fractions(self.labels, n_class)
