"""The paper's four metrics against a hand-computed example."""

from __future__ import annotations

import numpy as np
import pytest

from fcn_core.training.metrics import confusion_matrix, scores_from_confusion


def test_hand_computed_example():
    truth = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 255])
    pred = np.array([0, 0, 0, 1, 1, 1, 2, 2, 0, 1])
    hist = confusion_matrix(truth, pred, 3)
    assert hist.tolist() == [[3, 1, 0], [0, 2, 1], [1, 0, 1]]
    m = scores_from_confusion(hist)
    # n_ii = 3, 2, 1; t_i = 4, 3, 2; column sums 4, 3, 2; union = 4+4-3, 3+3-2, 2+2-1 = 5, 4, 3
    assert m["pixel_acc"] == pytest.approx(6 / 9)
    assert m["mean_acc"] == pytest.approx((3 / 4 + 2 / 3 + 1 / 2) / 3)
    assert m["per_class_iu"] == pytest.approx([3 / 5, 2 / 4, 1 / 3])
    assert m["mean_iu"] == pytest.approx((3 / 5 + 2 / 4 + 1 / 3) / 3)
    assert m["fw_iu"] == pytest.approx((4 * 3 / 5 + 3 * 2 / 4 + 2 * 1 / 3) / 9)


def test_absent_class_is_left_out():
    hist = confusion_matrix(np.array([0, 0, 1]), np.array([0, 0, 1]), 3)
    m = scores_from_confusion(hist)
    assert m["per_class_iu"][2] is None
    assert m["mean_iu"] == 1.0
