"""Labels carried from the classes they were saved with to another model's classes, by name."""

from __future__ import annotations

import time

import numpy as np
import pytest

from fcn_core.labels.class_mapping import ClassMismatch, class_lookup, map_labels
from fcn_core.model.palette import VOC_CLASSES

DEMO = ("background", "blob", "stripe", "person", "car")


def test_same_classes_return_the_labels_themselves():
    labels = np.array([[0, 1], [4, 255]], np.uint8)
    assert map_labels(labels, DEMO, DEMO) is labels
    # differing only in case and spacing, or only where no pixel is: nothing moves either
    assert map_labels(labels, DEMO, tuple(f" {n.upper()} " for n in DEMO)) is labels
    assert map_labels(labels, DEMO, DEMO[:2] + ("other", "x", "car")) is labels


def test_classes_map_by_name_and_void_stays():
    current = ("background", "car", "person", "blob")
    labels = np.array([[0, 1, 3], [4, 255, 1]], np.uint8)
    out = map_labels(labels, DEMO, current)
    assert out.dtype == np.uint8
    assert out.tolist() == [[0, 3, 2], [1, 255, 3]]
    assert labels.tolist() == [[0, 1, 3], [4, 255, 1]], "the input is left as it was"
    assert class_lookup(DEMO, current)[2] == 255, "a class without a namesake maps nowhere"


def test_a_used_class_without_namesake_is_refused_in_one_sentence():
    labels = np.array([[0, 1, 2]], np.uint8)
    with pytest.raises(ClassMismatch) as e:
        map_labels(labels, DEMO, VOC_CLASSES)
    text = str(e.value)
    assert isinstance(e.value, ValueError) and e.value.missing == ("blob", "stripe")
    assert "“blob”" in text and "“stripe”" in text and "“person”" not in text.split("lack")[0]
    assert "saved with: background, blob, stripe, person, car" in text
    assert "background, aeroplane" in text and "(21 in all)" in text, "a long list is shortened"
    assert text.count(". ") == 0 and text.endswith(".") and "\n" not in text


def test_a_value_beyond_the_saved_classes_is_refused():
    with pytest.raises(ClassMismatch, match="9"):
        map_labels(np.array([[0, 9]], np.uint8), DEMO, DEMO[::-1])


def test_a_large_image_maps_fast():
    labels = np.random.default_rng(0).integers(0, 5, (4000, 6000), dtype=np.uint8)  # 24 MP
    start = time.perf_counter()
    out = map_labels(labels, DEMO, ("background",) + DEMO[:0:-1])
    assert time.perf_counter() - start < 1.0
    assert np.array_equal(out, np.where(labels == 0, 0, 5 - labels))
