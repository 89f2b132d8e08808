"""The workspace (atomic saves) and the VOC export, read back by torchvision."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from fcn_core.storage.export import export_dataset, read_exported_item
from fcn_core.labels.document import LabelDocument
from fcn_core.model.palette import voc_colormap
from fcn_core.storage.workspace import Workspace

CLASSES = ("background", "a", "b", "c")
COLORS = tuple(tuple(int(x) for x in c) for c in voc_colormap(4))


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(5):
        Image.fromarray(rng.integers(0, 255, (30 + i, 40, 3), dtype=np.uint8)).save(tmp_path / f"im{i}.png")
    return tmp_path


def _correct(folder, name, value):
    ws = Workspace.beside(folder)
    with Image.open(folder / name) as im:
        w, h = im.size
    doc = LabelDocument(np.zeros((h, w), np.uint8), n_class=4)
    doc.paint(index=np.arange(0, 200), value=value)
    ws.save(folder / name, doc, np.asarray(COLORS), CLASSES)
    return doc


def test_workspace_round_trip_and_checks(folder):
    doc = _correct(folder, "im0.png", 2)
    ws = Workspace.beside(folder)
    labels, verified = ws.load(folder / "im0.png", doc.shape, 4)
    assert np.array_equal(labels, doc.labels) and np.array_equal(verified, doc.verified)
    assert not list(ws.root.glob("*.tmp"))
    with pytest.raises(ValueError, match="differ|is 40×30"):
        ws.load(folder / "im0.png", (31, 40), 4)
    with pytest.raises(ValueError, match="beyond"):
        ws.load(folder / "im0.png", doc.shape, 2)


def test_export_is_read_by_torchvision_with_identical_pixels(folder, tmp_path_factory):
    from torchvision.datasets import VOCSegmentation

    docs = {f"im{i}": _correct(folder, f"im{i}.png", 1 + i % 3) for i in range(4)}
    out = tmp_path_factory.mktemp("export") / "VOCdevkit" / "VOC2012"
    summary = export_dataset(folder, out, CLASSES, COLORS, val_fraction=0.25, seed=1)
    assert summary.written == 4 and len(summary.val) == 1 and not set(summary.train) & set(summary.val)
    for split, ids in (("train", summary.train), ("val", summary.val)):
        ds = VOCSegmentation(str(out.parent.parent), year="2012", image_set=split, download=False)
        assert len(ds) == len(ids)
        for k, item in enumerate(ids):
            img, target = ds[k]
            assert target.mode == "P"
            assert np.array_equal(np.array(target), docs[item].labels)
            assert img.size == target.size
    labels, verified = read_exported_item(out, "im1")
    assert np.array_equal(labels, docs["im1"].labels) and np.array_equal(verified, docs["im1"].verified)
    with pytest.raises(ValueError, match="already holds a dataset"):
        export_dataset(folder, out, CLASSES, COLORS)


def test_only_verified_marks_the_rest_void(folder, tmp_path_factory):
    _correct(folder, "im0.png", 3)
    out = tmp_path_factory.mktemp("ov")
    export_dataset(folder, out, CLASSES, COLORS, val_fraction=0, only_verified=True)
    labels, verified = read_exported_item(out, "im0")
    assert (labels[~verified] == 255).all() and (labels[verified] == 3).all()


def test_nothing_to_export(folder, tmp_path_factory):
    with pytest.raises(ValueError, match="nothing to export"):
        export_dataset(folder, tmp_path_factory.mktemp("e"), CLASSES, COLORS)


def test_short_cpu_finetune_on_an_export_lowers_the_loss(tmp_path):
    import torch

    from fcn_core import FCNBundle, ModelMeta, Preprocessing, VariantSpec
    from fcn_core.training.finetune import finetune_on_corrections
    from fcn_core.data.scenes import SCENE_CLASSES, SCENE_COLORS
    from tests.helpers.corrected_scenes import corrected_scene_folder

    folder, _ = corrected_scene_folder(tmp_path, 6, 64)
    torch.manual_seed(0)
    meta = ModelMeta(SCENE_CLASSES, SCENE_COLORS, Preprocessing.imagenet(), (VariantSpec("32s"), VariantSpec("8s")), 0.0625)
    losses = []
    result = finetune_on_corrections(FCNBundle(meta), folder, iterations=40, batch=4, lr=2e-3, device="cpu",
                                     progress=lambda s, n, loss: losses.append(loss))
    assert len(losses) == 40 and np.mean(losses[-8:]) < np.mean(losses[:8])
    assert result.checkpoint.exists() and set(result.before) == set(result.after) == {"32s", "8s"}


@st.composite
def _corrections(draw):
    """A few images (some sharing a stem) with random labels (classes and void) and verified masks, some uncorrected."""
    n = draw(st.integers(1, 4))
    names = draw(st.lists(st.sampled_from(["a.png", "a.jpg", "a_1.png", "b.bmp", "c.png", "C.png"]), min_size=n,
                          max_size=n, unique=True))
    items = []
    for name in names:
        shape = (draw(st.integers(1, 12)), draw(st.integers(1, 12)))
        labels = draw(hnp.arrays(np.uint8, shape, elements=st.sampled_from([0, 1, 2, 3, 255])))
        verified = draw(hnp.arrays(np.bool_, shape))
        items.append((name, labels, verified, draw(st.booleans()) or name == names[0]))
    return items, draw(st.booleans())


@settings(max_examples=40, deadline=None)
@given(_corrections())
def test_export_then_import_is_the_identity_on_labels_and_verified_masks(case):
    import tempfile
    from pathlib import Path

    items, only_verified = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "imgs"
        folder.mkdir()
        ws = Workspace.beside(folder)
        expected = {}
        for k, (name, labels, verified, corrected) in enumerate(items):
            Image.fromarray(np.full((*labels.shape, 3), 40 * k, np.uint8)).save(folder / name)
            if corrected:
                ws.save(folder / name, LabelDocument(labels, verified, n_class=4), np.asarray(COLORS), CLASSES)
                expected[name] = (np.where(verified, labels, 255) if only_verified else labels, verified)
        out = Path(tmp) / "out"
        summary = export_dataset(folder, out, CLASSES, COLORS, val_fraction=0.5, only_verified=only_verified)
        assert sorted(summary.sources.values()) == sorted(expected)  # each corrected image once, no other
        assert sorted(summary.train + summary.val) == sorted(summary.sources)
        for item, name in summary.sources.items():
            labels, verified = read_exported_item(out, item)
            assert np.array_equal(labels, expected[name][0]) and np.array_equal(verified, expected[name][1])
