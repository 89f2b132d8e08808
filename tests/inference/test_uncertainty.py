"""The uncertainty measures that rank images for correction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fcn_core import Prediction, Uncertainty, most_uncertain, uncertainty_of


def _prediction(variant: str, scores: np.ndarray) -> Prediction:
    return Prediction(variant, scores.argmax(0).astype(np.uint8), scores.astype(np.float32))


def test_a_sure_image_scores_zero_and_a_coin_toss_scores_the_maximum():
    sure = np.zeros((3, 4, 5), np.float32)
    sure[1] = 50.0
    tied = np.zeros((3, 4, 5), np.float32)
    u = uncertainty_of({"8s": _prediction("8s", sure)})
    assert u.entropy == pytest.approx(0, abs=1e-6) and u.margin == pytest.approx(0, abs=1e-6) and u.disagreement == 0
    u = uncertainty_of({"8s": _prediction("8s", tied)})
    assert u.entropy == pytest.approx(math.log(3), rel=1e-5) and u.margin == pytest.approx(1, abs=1e-6)


def test_disagreement_is_the_share_of_pixels_where_the_coarsest_and_finest_heads_differ():
    a = np.zeros((2, 4, 4), np.float32)
    a[0] = 5
    b = a.copy()
    b[1, :1] = 10  # one row of four goes to class 1 in FCN-8s
    u = uncertainty_of({"32s": _prediction("32s", a), "16s": _prediction("16s", a), "8s": _prediction("8s", b)})
    assert u.disagreement == pytest.approx(0.25)
    # the finest head's maps are the ones measured
    assert u.entropy == pytest.approx(float(_prediction("8s", b).entropy.mean()), rel=1e-6)


def test_most_uncertain_ranks_by_the_measure_and_leaves_out_the_excluded():
    values = {"a": Uncertainty(0.1, 0.9, 0.0), "b": Uncertainty(0.5, 0.2, 0.3), "c": Uncertainty(0.3, 0.5, 0.6)}
    assert most_uncertain(values, "entropy") == ["b", "c", "a"]
    assert most_uncertain(values, "margin") == ["a", "c", "b"]
    assert most_uncertain(values, "disagreement", exclude={"c"}) == ["b", "a"]
    with pytest.raises(ValueError, match="unknown uncertainty measure"):
        values["a"].value("loss")
    with pytest.raises(ValueError, match="no predictions"):
        uncertainty_of({})
