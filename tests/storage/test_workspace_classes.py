"""Saved labels know their classes: opened under another model they are renumbered by name, or refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from fcn_core.labels.class_mapping import ClassMismatch
from fcn_core.labels.document import LabelDocument
from fcn_core.model.palette import VOC_CLASSES, voc_colormap
from fcn_core.storage.export import export_dataset, read_exported_item
from fcn_core.storage.image_io import encode_label_png, read_label_png_chunks
from fcn_core.storage.workspace import CLASSES_CHUNK, VERIFIED_CHUNK, Workspace

DEMO = ("background", "blob", "stripe", "ring")
SUPERSET = ("Ring", "background", "dog", "stripe", " blob ", "cat")  # other order, case, spacing
COLORS = tuple(tuple(int(x) for x in c) for c in voc_colormap(len(SUPERSET)))


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (12, 16, 3), dtype=np.uint8)).save(path)
    return path


def _save(image, values=(1, 2, 3), classes=DEMO):
    labels = np.zeros((12, 16), np.uint8)
    for k, v in enumerate(values):
        labels[k * 3:(k + 1) * 3] = v
    labels[-1] = 255
    doc = LabelDocument(labels, None, n_class=len(classes))
    doc.paint(index=np.arange(0, 20), value=values[0])
    ws = Workspace.beside(image.parent)
    ws.save(image, doc, np.asarray(COLORS[:len(classes)]), classes)
    return ws, doc


def test_same_classes_load_as_saved_with_the_revision(image):
    ws, doc = _save(image)
    saved = ws.load_labels(image, (12, 16), DEMO)
    assert np.array_equal(saved.labels, doc.labels) and np.array_equal(saved.verified, doc.verified)
    assert saved.classes_saved == DEMO and not saved.mapped and saved.revision == doc.revision > 0
    assert ws.saved_classes(image) == DEMO
    labels, verified = ws.load(image, (12, 16), len(DEMO))  # the old call: a class count
    assert np.array_equal(labels, doc.labels) and np.array_equal(verified, doc.verified)


def test_remove_forgets_the_labels_and_a_second_remove_is_harmless(image):
    ws, _ = _save(image)
    assert ws.has(image) and ws.verified_share(image) is not None
    ws.remove(image)
    assert not ws.has(image) and ws.verified_share(image) is None and ws.load(image, (12, 16), DEMO) is None
    assert not ws.verified_path(image).exists() and not ws.state_path(image).exists()
    ws.remove(image)


def test_a_superset_in_another_order_maps_pixels_by_name(image):
    ws, doc = _save(image)
    saved = ws.load_labels(image, (12, 16), SUPERSET)
    expected = np.choose(doc.labels.astype(int).clip(0, 3), [1, 4, 3, 0])
    expected[doc.labels == 255] = 255
    assert saved.mapped and saved.classes_saved == DEMO
    assert np.array_equal(saved.labels, expected)
    assert np.array_equal(saved.verified, doc.verified), "the mask is kept though the pixel values moved"
    labels, _ = ws.load(image, (12, 16), SUPERSET)
    assert np.array_equal(labels, expected)


def test_a_list_missing_a_used_class_is_refused_naming_it(image):
    ws, _ = _save(image, values=(1, 3, 1))  # "stripe" unused
    with pytest.raises(ClassMismatch, match="“blob”") as e:
        ws.load_labels(image, (12, 16), ("background", "ring", "dog"))
    assert "a.png" in str(e.value) and "stripe" not in str(e.value).split("which")[0]
    assert ws.load_labels(image, (12, 16), ("background", "blob", "ring")).mapped  # unused stripe may go


def test_the_classes_are_committed_with_the_pixels(image):
    """A kill after the label PNG but before state.json: the stale state's classes must not win."""
    ws, _ = _save(image, classes=SUPERSET, values=(4, 3, 0))
    state = json.loads(ws.state_path(image).read_text())
    state["classes"] = list(DEMO)  # as if it were the previous save's
    ws.state_path(image).write_text(json.dumps(state))
    saved = ws.load_labels(image, (12, 16), SUPERSET)
    assert saved.classes_saved == SUPERSET and not saved.mapped
    assert CLASSES_CHUNK in read_label_png_chunks(ws.label_path(image))[1]


def _legacy(ws, image, doc):
    """The label PNG as saves before the class chunk wrote it."""
    ws.label_path(image).write_bytes(encode_label_png(doc.labels, np.asarray(COLORS), {}))


CRAFTED = [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"classes": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"classes": ["background", "bl\x00ob"]}',
    b'{"classes": ["background", "bl\\u0000ob"]}',
    b"\x00" * 1000,
    b'{"classes": "background"}',
    b'{"classes": {"0": "background"}}',
    b'{"classes": [1, 2, 3]}',
    b'{"classes": []}',
    b'{"classes": ["x"], "revision": "7"}' + b" " * 1_000_001,
    b'\xff\xfe{"classes": ["a"]}',
    b'{"classes": ["a", "b"], "revision": [1], "source": {"x": 1}}',
]


@pytest.mark.parametrize("data", CRAFTED, ids=range(len(CRAFTED)))
def test_a_crafted_state_json_is_ignored_and_load_falls_back(image, data):
    ws, doc = _save(image)
    _legacy(ws, image, doc)
    ws.state_path(image).write_bytes(data)
    assert ws.saved_classes(image) is None or ws.saved_classes(image) == ("a", "b")
    assert ws.other_source(image) is None and ws.saved_revision(image) == 0
    if ws.saved_classes(image) is None:
        saved = ws.load_labels(image, (12, 16), SUPERSET)  # the class-count check, nothing renumbered
        assert not saved.mapped and saved.classes_saved is None and np.array_equal(saved.labels, doc.labels)
        with pytest.raises(ValueError, match="beyond"):
            ws.load_labels(image, (12, 16), DEMO[:2])


def test_a_crafted_classes_chunk_falls_back_to_state_json(image):
    ws, doc = _save(image)
    chunks = {VERIFIED_CHUNK: read_label_png_chunks(ws.label_path(image))[1][VERIFIED_CHUNK],
              CLASSES_CHUNK: b"[" * 100_000}
    ws.label_path(image).write_bytes(encode_label_png(doc.labels, np.asarray(COLORS), chunks))
    assert ws.saved_classes(image) == DEMO
    saved = ws.load_labels(image, (12, 16), SUPERSET)
    assert saved.mapped and np.array_equal(saved.verified, doc.verified)


def test_a_state_json_without_classes_keeps_the_count_check(image):
    ws, doc = _save(image)
    _legacy(ws, image, doc)
    ws.state_path(image).unlink()
    assert ws.saved_classes(image) is None
    saved = ws.load_labels(image, (12, 16), VOC_CLASSES)
    assert np.array_equal(saved.labels, doc.labels) and not saved.mapped and saved.revision == 0
    with pytest.raises(ValueError, match="beyond this model's 2 classes"):
        ws.load_labels(image, (12, 16), DEMO[:2])


def test_export_maps_by_name_or_refuses_writing_nothing(image, tmp_path_factory):
    _, doc = _save(image)
    out = tmp_path_factory.mktemp("export")
    export_dataset(image.parent, out, SUPERSET, COLORS, val_fraction=0)
    labels, verified = read_exported_item(out, "a")
    expected = np.choose(doc.labels.astype(int).clip(0, 3), [1, 4, 3, 0])
    expected[doc.labels == 255] = 255
    assert np.array_equal(labels, expected) and np.array_equal(verified, doc.verified)
    refused = tmp_path_factory.mktemp("refused")
    voc_colors = tuple(tuple(int(x) for x in c) for c in voc_colormap(21))
    with pytest.raises(ClassMismatch, match="“blob”, “stripe”, “ring”, which this model's classes lack"):
        export_dataset(image.parent, refused, VOC_CLASSES, voc_colors)
    assert not list(refused.iterdir())
