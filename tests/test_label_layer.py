"""The edit layer's indexed image and the legend's fast class shares."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from app.label_layer import LabelLayer, lut_to_argb32  # noqa: E402
from app.overlay import class_fractions, label_lut  # noqa: E402
from fcn_core.palette import voc_colormap  # noqa: E402


def test_class_fractions_match_bincount_exactly():
    rng = np.random.default_rng(0)
    for shape in ((0, 5), (7, 9), (2100, 2100)):  # the last spans several histogram chunks
        labels = rng.integers(0, 256, shape, dtype=np.uint8)
        expected = np.bincount(labels.ravel(), minlength=21)[:21] / max(1, labels.size)
        assert np.array_equal(class_fractions(labels, 21), expected)


def test_layer_shows_in_place_edits_and_new_luts_without_recolouring(qapp):
    labels = np.zeros((30, 40), np.uint8)
    palette = voc_colormap(5)
    layer = LabelLayer()
    layer.set_labels(labels, label_lut(palette, set(), 0.5))
    labels[10:12, 20:25] = 3  # the document edits its array in place
    layer.refresh((20, 10, 25, 12))
    assert layer.pixels_coloured == 10
    assert layer.image.pixelIndex(22, 11) == 3
    lut = label_lut(palette, {0}, 0.8)
    layer.set_lut(lut)
    assert layer.image.pixelIndex(22, 11) == 3 and layer.labels is labels
    assert np.array_equal(layer.buffer, lut_to_argb32(lut)[labels])
    assert (layer.image.pixel(22, 11) >> 24) == round(255 * 0.8) and (layer.image.pixel(0, 0) >> 24) == 0
