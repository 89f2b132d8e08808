"""How unsure the model is about an image, as one number per measure: which image to correct next."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the measures themselves need no torch: the window sorts with them before any model loads
    from .results import Prediction

# measure → what the window's sort menu calls it; each is "higher = more worth correcting"
UNCERTAINTY_MEASURES: dict[str, str] = {
    "entropy": "mean entropy",
    "margin": "low margin",
    "disagreement": "FCN-32s and FCN-8s disagree",
}
DEFAULT_MEASURE = "entropy"


@dataclass(frozen=True)
class Uncertainty:
    """One image's uncertainty under the finest head (FCN-8s where there is one)."""

    entropy: float  # mean softmax entropy, in nats
    margin: float  # mean of 1 − (top-1 − top-2 probability): 0 sure everywhere, 1 a coin toss everywhere
    disagreement: float  # share of pixels where the coarsest and the finest head give different classes

    def value(self, measure: str) -> float:
        if measure not in UNCERTAINTY_MEASURES:
            raise ValueError(f"unknown uncertainty measure {measure!r}: {', '.join(UNCERTAINTY_MEASURES)}")
        return float(getattr(self, measure))


def uncertainty_of(predictions: dict[str, "Prediction"]) -> Uncertainty:
    """The image's uncertainty from its predictions (variant → prediction); one variant gives no disagreement."""
    if not predictions:
        raise ValueError("no predictions to measure")
    order = [v for v in ("8s", "16s", "32s") if v in predictions] or list(predictions)
    finest, coarsest = predictions[order[0]], predictions[order[-1]]
    disagreement = float(np.mean(finest.labels != coarsest.labels)) if finest is not coarsest else 0.0
    return Uncertainty(float(finest.entropy.mean(dtype=np.float64)),
                       float(1.0 - finest.confidence.mean(dtype=np.float64)), disagreement)


def most_uncertain(values: dict, measure: str = DEFAULT_MEASURE, exclude=()) -> list:
    """The keys of ``values`` (key → Uncertainty) from the most to the least uncertain, ``exclude`` left out;
    ties keep the given order."""
    keys = [k for k in values if k not in set(exclude)]
    return sorted(keys, key=lambda k: -values[k].value(measure))
