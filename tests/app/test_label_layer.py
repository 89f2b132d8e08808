"""The edit layer's indexed image, its colours and outlines."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from app.views.label_layer import LabelLayer, lut_to_argb32  # noqa: E402
from app.views.overlay import label_lut, outline_index, refresh_outline_index  # noqa: E402
from fcn_core.model.palette import voc_colormap  # noqa: E402


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


def test_outline_refresh_around_an_edit_equals_recomputing_it_whole():
    rng = np.random.default_rng(1)
    labels = np.zeros((40, 50), np.uint8)
    labels[5:30, 8:40] = 2
    index = outline_index(labels)
    for _ in range(200):  # edits of every size, many touching the image's borders
        x0, y0 = int(rng.integers(-3, 50)), int(rng.integers(-3, 40))
        x1, y1 = x0 + int(rng.integers(1, 12)), y0 + int(rng.integers(1, 12))
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(max(x1, 1), 50), min(max(y1, 1), 40)
        labels[y0:y1, x0:x1] = rng.integers(0, 4)
        gx0, gy0, gx1, gy1 = refresh_outline_index(index, labels, (x0, y0, x1, y1))
        assert gx0 >= x0 - 1 and gy0 >= y0 - 1 and gx1 <= x1 + 1 and gy1 <= y1 + 1
        assert np.array_equal(index, outline_index(labels))


def test_layer_in_outline_mode_recolours_only_around_a_stroke(qapp):
    labels = np.zeros((60, 80), np.uint8)
    lut = label_lut(voc_colormap(5), set(), 1.0)
    layer = LabelLayer()
    layer.set_labels(labels, lut, outline=True)
    assert layer.outline and (layer.image.pixelIndex(10, 10) == 255)  # no boundaries yet: all void
    labels[20:30, 30:40] = 3
    layer.refresh((30, 20, 40, 30))
    assert layer.pixels_coloured == 12 * 12 and layer.labels is labels
    assert np.array_equal(layer.buffer, lut_to_argb32(lut)[outline_index(labels)])
    assert layer.image.pixelIndex(30, 25) == 3 and layer.image.pixelIndex(35, 25) == 255  # edge, interior
    assert layer.image.pixelIndex(29, 25) == 0  # the background side of the new boundary too
    layer.set_labels(labels, lut)  # back to filled
    assert not layer.outline and layer.image.pixelIndex(35, 25) == 3
