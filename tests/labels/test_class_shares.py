"""Class shares of a label map, as the legend shows them."""

from __future__ import annotations

import numpy as np

from fcn_core import class_fractions


def test_class_fractions_match_bincount_exactly():
    rng = np.random.default_rng(0)
    for shape in ((0, 5), (7, 9), (2100, 2100)):  # the last spans several histogram chunks
        labels = rng.integers(0, 256, shape, dtype=np.uint8)
        expected = np.bincount(labels.ravel(), minlength=21)[:21] / max(1, labels.size)
        assert np.array_equal(class_fractions(labels, 21), expected)
