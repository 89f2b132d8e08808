"""What another model changed on an image."""

from __future__ import annotations

import numpy as np
import pytest

from fcn_core import label_changes


def test_changes_mark_the_pixels_and_the_classes_that_moved_most():
    before = np.zeros((10, 10), np.uint8)
    before[:5] = 1
    after = before.copy()
    after[:2] = 2  # 20 pixels from class 1 to class 2
    after[9, 9] = 255  # void counts as a change, in no class
    c = label_changes(before, after, 3)
    assert c.changed.sum() == 21 and c.share == pytest.approx(0.21)
    assert c.before.tolist() == pytest.approx([0.5, 0.5, 0]) and c.after.tolist() == pytest.approx([0.49, 0.3, 0.2])
    assert c.biggest(("bg", "a", "b"), 2) == [("a", 0.5, pytest.approx(0.3)), ("b", 0.0, pytest.approx(0.2))]
    assert label_changes(before, before, 3).share == 0 and label_changes(before, before, 3).biggest(("bg", "a", "b")) == []
    with pytest.raises(ValueError, match="differ in size"):
        label_changes(before, after[:5], 3)
