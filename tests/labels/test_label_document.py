"""The label document: strokes, undo/redo per stroke storing only changed pixels, and the tools' masks."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fcn_core.labels.document import LabelDocument
from fcn_core.labels.paint_tools import disc_mask, flood_fill_mask, polygon_mask, restrict, segment_indices


def test_a_drag_is_one_undo_step_and_stores_only_changed_pixels():
    doc = LabelDocument(np.zeros((50, 60), np.uint8), n_class=5)
    rects = []
    doc.subscribe(rects.append)
    doc.begin_stroke("brush")
    for x in range(5, 40, 3):
        doc.paint(index=segment_indices(doc.shape, (x, 20), (x + 3, 20), 3), value=2)
    atom = doc.end_stroke()
    assert len(doc.undo_stack) == 1
    assert atom.index.size == (doc.labels == 2).sum() < 50 * 60
    assert all(r[0] >= 0 and r[2] <= 60 for r in rects)
    assert doc.verified.sum() == atom.index.size
    assert doc.undo() and (doc.labels == 0).all() and not doc.verified.any()
    assert doc.redo() and (doc.labels == 2).sum() == atom.index.size


def test_history_is_bounded():
    doc = LabelDocument(np.zeros((100, 100), np.uint8), n_class=5, history_bytes=20_000)
    for i in range(30):
        doc.paint(index=np.arange(i * 300, i * 300 + 300), value=1 + i % 3)
    assert sum(a.nbytes for a in doc.undo_stack) <= 20_000
    assert 1 <= len(doc.undo_stack) < 30


def test_as_made_holds_only_while_no_stroke_stands():
    doc = LabelDocument(np.zeros((20, 20), np.uint8), n_class=5)
    assert doc.as_made
    doc.begin_stroke("brush")
    doc.paint(index=np.arange(10), value=2)
    assert not doc.as_made  # a stroke under way
    doc.end_stroke()
    doc.paint(index=np.arange(30, 40), value=3)
    assert not doc.as_made
    assert doc.undo() and not doc.as_made
    assert doc.undo() and doc.as_made  # every stroke taken back
    assert doc.redo() and not doc.as_made
    # a history that forgot its oldest strokes can never be undone back to the start
    small = LabelDocument(np.zeros((100, 100), np.uint8), n_class=5, history_bytes=2_000)
    for i in range(5):
        small.paint(index=np.arange(i * 300, i * 300 + 300), value=1)
    while small.undo():
        pass
    assert not small.as_made and (small.labels == 1).any()


def test_tools_masks():
    m, (x0, y0) = disc_mask((20, 20), 10, 10, 3)
    assert m.sum() in range(25, 35) and (x0, y0) == (7, 7)
    labels = np.zeros((10, 10), np.uint8)
    labels[2:5, 2:5] = 3
    labels[7:9, 7:9] = 3
    region = flood_fill_mask(labels, 3, 3)
    assert region.sum() == 9 and not region[8, 8]
    poly = polygon_mask((10, 10), [(0, 0), (10, 0), (10, 10), (0, 10)])
    assert poly.sum() >= 81
    idx = np.arange(100)
    assert np.array_equal(restrict(idx, labels, 3), np.flatnonzero(labels == 3))


strokes = st.lists(st.tuples(st.integers(0, 39), st.integers(0, 29), st.integers(1, 6), st.integers(0, 4)), min_size=1, max_size=8)
ops = st.lists(st.one_of(st.just("undo"), st.just("redo"), strokes), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(ops)
def test_strokes_undo_redo_equal_replaying_the_remaining_strokes(sequence):
    base = np.zeros((30, 40), np.uint8)
    doc = LabelDocument(base, n_class=5)
    done: list[list] = []   # strokes in effect, in order
    undone: list[list] = []
    for op in sequence:
        if op == "undo":
            if doc.undo():
                undone.append(done.pop())
        elif op == "redo":
            if doc.redo():
                done.append(undone.pop())
        else:
            doc.begin_stroke()
            for x, y, r, c in op:
                doc.paint(index=segment_indices(doc.shape, (x, y), (x, y), r), value=c)
            if doc.end_stroke() is not None:
                done.append(op)
                undone.clear()
    replay = LabelDocument(base, n_class=5)
    for op in done:
        replay.begin_stroke()
        for x, y, r, c in op:
            replay.paint(index=segment_indices(replay.shape, (x, y), (x, y), r), value=c)
        replay.end_stroke()
    assert np.array_equal(doc.labels, replay.labels)
    assert np.array_equal(doc.verified, replay.verified)


def test_grabcut_snaps_a_rough_region_to_edges():
    from fcn_core.labels.paint_tools import grabcut_refine

    rng = np.random.default_rng(0)
    image = (rng.normal(60, 8, (80, 80, 3))).clip(0, 255).astype(np.uint8)
    image[20:60, 25:55] = rng.normal(200, 8, (40, 30, 3)).clip(0, 255).astype(np.uint8)
    truth = np.zeros((80, 80), bool)
    truth[20:60, 25:55] = True
    rough = polygon_mask((80, 80), [(18, 14), (62, 16), (60, 66), (15, 64)])  # too big, crooked
    refined = grabcut_refine(image, rough)
    iou = lambda a, b: (a & b).sum() / (a | b).sum()  # noqa: E731
    assert iou(refined, truth) > 0.9 > iou(rough, truth)


def test_grabcut_on_a_large_image_works_in_a_window_around_the_region(monkeypatch):
    import cv2

    from fcn_core.labels import paint_tools

    rng = np.random.default_rng(1)
    image = rng.normal(60, 8, (2000, 3000, 3)).clip(0, 255).astype(np.uint8)
    image[1020:1060, 2025:2055] = rng.normal(200, 8, (40, 30, 3)).clip(0, 255).astype(np.uint8)
    truth = np.zeros(image.shape[:2], bool)
    truth[1020:1060, 2025:2055] = True
    rough = polygon_mask(image.shape[:2], [(2018, 1014), (2062, 1016), (2060, 1066), (2015, 1064)])
    seen = []
    real = cv2.grabCut
    monkeypatch.setattr(paint_tools.cv2, "grabCut", lambda img, *a: (seen.append(img.shape), real(img, *a))[1])
    refined = paint_tools.grabcut_refine(image, rough)
    assert refined.shape == truth.shape and (refined & truth).sum() / (refined | truth).sum() > 0.9
    assert len(seen) == 1 and seen[0][0] * seen[0][1] < 200 * 200  # not the 6 MP image


def test_grabcut_on_a_region_covering_a_large_photo_is_bounded(monkeypatch):
    """A class covering most of a 24 MP photo froze the window for minutes in GrabCut; it now runs on at most
    GRABCUT_MAX_PIXELS and the answer still follows the edge."""
    import cv2

    from fcn_core.labels import paint_tools

    rng = np.random.default_rng(2)
    image = rng.normal(60, 8, (3000, 4000, 3)).clip(0, 255).astype(np.uint8)
    image[300:2700, 400:3600] = rng.normal(200, 8, (2400, 3200, 3)).clip(0, 255).astype(np.uint8)
    truth = np.zeros(image.shape[:2], bool)
    truth[300:2700, 400:3600] = True
    rough = np.zeros_like(truth)
    rough[250:2760, 330:3660] = True  # overshoots on every side
    seen = []
    real = cv2.grabCut
    monkeypatch.setattr(paint_tools.cv2, "grabCut", lambda img, *a: (seen.append(img.shape), real(img, *a))[1])
    refined = paint_tools.grabcut_refine(image, rough)
    assert len(seen) == 1 and seen[0][0] * seen[0][1] <= paint_tools.GRABCUT_MAX_PIXELS * 1.01
    assert refined.shape == truth.shape
    assert (refined & truth).sum() / (refined | truth).sum() > 0.98 > (rough & truth).sum() / (rough | truth).sum()
