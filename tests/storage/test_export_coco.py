"""COCO export: what pycocotools reads back is the corrected labels, pixel for pixel (RLE), or close (polygons)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from fcn_core.cli import main as core_main
from fcn_core.labels.document import LabelDocument
from fcn_core.model.palette import voc_colormap
from fcn_core.storage.export import export_dataset
from fcn_core.storage.workspace import Workspace

pytest.importorskip("pycocotools")
from pycocotools.coco import COCO  # noqa: E402

CLASSES = ("background", "a", "b", "c")
COLORS = tuple(tuple(int(x) for x in c) for c in voc_colormap(4))
# pycocotools' decoder calls numpy's __array__ the old way (a warning per mask, nothing wrong)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools")


def _demo_meta():
    """The classes the CLI uses without --weights (the demo model's)."""
    from fcn_core import DEMO_MODEL, load_bundle

    return load_bundle([DEMO_MODEL]).meta


def _load(path: Path) -> COCO:
    coco = COCO()
    coco.dataset = json.loads(path.read_text())
    coco.createIndex()
    return coco


def _class_masks(coco: COCO, image_id: int, shape: tuple[int, int], n_class: int = len(CLASSES)
                 ) -> dict[int, np.ndarray]:
    masks = {c: np.zeros(shape, bool) for c in range(1, n_class)}
    for ann in coco.loadAnns(coco.getAnnIds(imgIds=[image_id])):
        masks[ann["category_id"]] |= coco.annToMask(ann).astype(bool)
    return masks


@settings(max_examples=30, deadline=None)
@given(st.lists(hnp.arrays(np.uint8, st.tuples(st.integers(1, 14), st.integers(1, 14)),
                           elements=st.sampled_from([0, 1, 2, 3, 255])), min_size=1, max_size=3))
def test_rle_export_reads_back_with_the_same_pixels(label_maps):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "imgs"
        folder.mkdir()
        ws = Workspace.beside(folder)
        for k, labels in enumerate(label_maps):
            Image.fromarray(np.full((*labels.shape, 3), 30 * k, np.uint8)).save(folder / f"im{k}.png")
            ws.save(folder / f"im{k}.png", LabelDocument(labels, n_class=4), np.asarray(COLORS), CLASSES)
        out = Path(tmp) / "coco"
        summary = export_dataset(folder, out, CLASSES, COLORS, val_fraction=0.5, dataset_format="coco")
        coco = _load(out / "annotations" / "instances_trainval.json")
        assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == list(CLASSES[1:])
        assert sorted(coco.getImgIds()) == list(range(1, len(label_maps) + 1))
        for image in coco.loadImgs(coco.getImgIds()):
            labels = label_maps[int(summary.sources[Path(image["file_name"]).stem][2:].split(".")[0])]
            assert (image["height"], image["width"]) == labels.shape
            assert (out / "images" / image["file_name"]).is_file()
            for c, mask in _class_masks(coco, image["id"], labels.shape).items():
                assert np.array_equal(mask, labels == c), c
            for ann in coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]])):  # one connected region each
                import cv2
                assert cv2.connectedComponents(coco.annToMask(ann), connectivity=8)[0] == 2
        train = _load(out / "annotations" / "instances_train.json")
        val = _load(out / "annotations" / "instances_val.json")
        assert len(train.getImgIds()) + len(val.getImgIds()) == len(label_maps)


def test_polygons_follow_the_regions(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    labels = np.zeros((80, 100), np.uint8)
    yy, xx = np.mgrid[:80, :100]
    labels[(yy - 40) ** 2 + (xx - 30) ** 2 < 15 ** 2] = 1  # a disc
    labels[10:70, 60:90] = 2  # a rectangle
    labels[75:77, 5:6] = 3  # a two-pixel sliver
    Image.fromarray(np.zeros((80, 100, 3), np.uint8)).save(folder / "x.png")
    meta = _demo_meta()
    Workspace.beside(folder).save(folder / "x.png", LabelDocument(labels, n_class=meta.n_class),
                                  np.asarray(meta.colors), meta.classes)
    out = tmp_path / "coco"
    assert core_main(["export", str(folder), "--out", str(out), "--format", "coco", "--polygons",
                      "--val-fraction", "0"]) == 0
    coco = _load(out / "annotations" / "instances_train.json")
    anns = coco.loadAnns(coco.getAnnIds())
    assert sorted(a["category_id"] for a in anns) == [1, 2, 3]
    assert all(isinstance(a["segmentation"], list) for a in anns)
    for c, mask in list(_class_masks(coco, 1, labels.shape, meta.n_class).items())[:3]:
        truth = labels == c
        iou = (mask & truth).sum() / (mask | truth).sum()
        assert iou >= (0.85 if c < 3 else 0.3), (c, iou)


def test_coco_export_refuses_what_voc_refuses(tmp_path, capsys):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "x.png")
    out = tmp_path / "coco"
    assert core_main(["export", str(folder), "--out", str(out), "--format", "coco"]) == 2
    assert "no image" in capsys.readouterr().err and not out.exists()
    meta = _demo_meta()
    Workspace.beside(folder).save(folder / "x.png", LabelDocument(np.ones((8, 8), np.uint8), n_class=meta.n_class),
                                  np.asarray(meta.colors), meta.classes)
    assert core_main(["export", str(folder), "--out", str(out), "--format", "coco"]) == 0
    assert "as COCO" in capsys.readouterr().out
    before = (out / "annotations" / "instances_trainval.json").read_bytes()
    assert core_main(["export", str(folder), "--out", str(out), "--format", "coco"]) == 2
    assert "already holds a dataset" in capsys.readouterr().err
    assert (out / "annotations" / "instances_trainval.json").read_bytes() == before
    assert core_main(["export", str(folder), "--out", str(tmp_path / "v"), "--polygons"]) == 2
    assert "--format coco" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["annotations", "images"]
