"""Importing labelme, COCO, VOC and mask annotations: the peers' own files give the same pixels here, our
exports come back unchanged, and a bad file, an unknown class, a missing image or a cancel changes nothing."""

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
from fcn_core.model.palette import VOC_CLASSES, VOID, full_palette, voc_colormap
from fcn_core.storage.export import export_dataset
from fcn_core.storage.label_import import ImportCancelled, import_labels
from fcn_core.storage.labelme_format import labelme_document, labelme_shapes
from fcn_core.storage.workspace import Workspace

pytest.importorskip("pycocotools")
from pycocotools import mask as mask_utils  # noqa: E402

CLASSES = ("background", "a", "b", "c")
COLORS = tuple(tuple(int(x) for x in c) for c in voc_colormap(4))
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools")


def images(folder: Path, shapes: dict[str, tuple[int, int]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name, (h, w) in shapes.items():
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(folder / name)
    return folder


def saved(folder: Path, name: str, classes=CLASSES) -> tuple[np.ndarray, np.ndarray] | None:
    image = folder / name
    with Image.open(image) as im:
        shape = (im.height, im.width)
    got = Workspace.beside(folder).load_labels(image, shape, classes)
    return None if got is None else (got.labels, got.verified)


def workspace_files(folder: Path) -> dict[str, bytes]:
    ws = Workspace.beside(folder).root
    return {p.name: p.read_bytes() for p in sorted(ws.iterdir())} if ws.exists() else {}


def labels_map(seed: int, h: int, w: int) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.integers(0, len(CLASSES), (max(1, h // 5), max(1, w // 5))).astype(np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def imp(kind, path, folder, **kw):
    return import_labels(kind, path, folder, CLASSES, COLORS, **kw)


# --- each format, against its peer ----------------------------------------------------------------------------

def test_labelme_files_import_with_the_pixels_labelme_gives_unverified(tmp_path):
    folder = images(tmp_path / "imgs", {"a.jpg": (40, 60), "b.png": (33, 21)})
    maps = {"a.jpg": labels_map(1, 40, 60), "b.png": labels_map(2, 33, 21)}
    maps["a.jpg"][:3, :3] = VOID
    (tmp_path / "lm").mkdir()
    for name, lab in maps.items():
        (tmp_path / "lm" / f"{Path(name).stem}.json").write_bytes(
            labelme_document(labelme_shapes(lab, CLASSES), name, *lab.shape))
    summary = imp("labelme", tmp_path / "lm", folder)
    assert summary.imported == ("a.jpg", "b.png") and not summary.verified
    for name, lab in maps.items():
        labels, verified = saved(folder, name)
        assert np.array_equal(labels, lab) and not verified.any()


def test_coco_polygons_and_both_rle_forms_import_as_pycocotools_decodes_them(tmp_path):
    folder = images(tmp_path / "imgs", {"p.jpg": (50, 70)})
    h, w = 50, 70
    square = np.zeros((h, w), np.uint8, order="F")
    square[10:30, 5:25] = 1
    compressed = mask_utils.encode(np.asfortranarray(square))
    compressed["counts"] = compressed["counts"].decode()
    runs, flat, value, n = [], square.ravel(order="F"), 0, 0
    for v in flat:  # the uncompressed form: run lengths down the columns, starting with zeros
        if v != value:
            runs.append(n)
            value, n = v, 0
        n += 1
    runs.append(n)
    poly = [[40.5, 5.0, 65.0, 8.0, 60.2, 45.7, 42.0, 30.0]]
    anns = [{"id": 1, "image_id": 7, "category_id": 11, "segmentation": poly, "iscrowd": 0},
            {"id": 2, "image_id": 7, "category_id": 12, "segmentation": compressed, "iscrowd": 0},
            {"id": 3, "image_id": 7, "category_id": 13, "segmentation": {"counts": runs, "size": [h, w]},
             "iscrowd": 1}]
    doc = {"images": [{"id": 7, "file_name": "p.jpg", "height": h, "width": w}], "annotations": anns,
           "categories": [{"id": 11, "name": "a"}, {"id": 12, "name": "b"}, {"id": 13, "name": "c"}]}
    (tmp_path / "c.json").write_text(json.dumps(doc))
    imp("coco", tmp_path / "c.json", folder)
    expected = np.zeros((h, w), np.uint8)
    expected[mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(poly, h, w))).astype(bool)] = 1
    expected[square.astype(bool)] = 3  # the uncompressed RLE (category c) is painted last, over b's
    labels, _ = saved(folder, "p.jpg")
    assert np.array_equal(labels, expected)


@settings(max_examples=25, deadline=None)
@given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12)), elements=st.sampled_from([0, 1, 2, 3])))
def test_any_mask_pycocotools_encodes_imports_exactly(labels):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        h, w = labels.shape
        folder = images(tmp / "imgs", {"x.png": (h, w)})
        anns = []
        for c in (1, 2, 3):
            rle = mask_utils.encode(np.asfortranarray((labels == c).astype(np.uint8)))
            rle["counts"] = rle["counts"].decode()
            anns.append({"id": c, "image_id": 1, "category_id": c, "segmentation": rle, "iscrowd": 0})
        doc = {"images": [{"id": 1, "file_name": "x.png", "height": h, "width": w}], "annotations": anns,
               "categories": [{"id": c, "name": CLASSES[c]} for c in (1, 2, 3)]}
        (tmp / "c.json").write_text(json.dumps(doc))
        imp("coco", tmp / "c.json", folder)
        assert np.array_equal(saved(folder, "x.png")[0], labels)


def test_our_voc_export_is_read_by_torchvision_and_imports_back_unchanged(tmp_path):
    torchvision = pytest.importorskip("torchvision")
    src = images(tmp_path / "src", {"a.jpg": (40, 60), "b.jpg": (30, 30)})
    ws = Workspace.beside(src)
    maps = {"a.jpg": labels_map(3, 40, 60), "b.jpg": labels_map(4, 30, 30)}
    maps["b.jpg"][5:9, 5:9] = VOID
    for name, lab in maps.items():
        ws.save(src / name, LabelDocument(lab, np.ones(lab.shape, bool)), full_palette(np.asarray(COLORS)), CLASSES)
    voc = tmp_path / "VOCdevkit" / "VOC2012"
    export_dataset(src, voc, CLASSES, COLORS, val_fraction=0.0)
    data = torchvision.datasets.VOCSegmentation(str(tmp_path), year="2012", image_set="trainval")
    assert len(data) == 2
    for (image, target), name in zip(data, sorted(maps)):  # torchvision's reading: the same pixels
        assert np.array_equal(np.asarray(target), maps[name])
    dst = images(tmp_path / "dst", {"a.jpg": (40, 60), "b.jpg": (30, 30)})
    imp("voc", voc, dst)
    for name, lab in maps.items():
        assert np.array_equal(saved(dst, name)[0], lab)


def test_a_plain_voc_folder_without_classes_json_uses_the_voc_names(tmp_path):
    folder = images(tmp_path / "imgs", {"2007_000032.jpg": (20, 30)})
    (tmp_path / "VOC" / "SegmentationClass").mkdir(parents=True)
    lab = np.zeros((20, 30), np.uint8)
    lab[2:9, 3:12] = VOC_CLASSES.index("cat")
    lab[10:18, 15:25] = VOC_CLASSES.index("dog")
    lab[0, :] = VOID
    im = Image.fromarray(lab, mode="P")
    im.putpalette(voc_colormap(256).ravel().tolist())
    im.save(tmp_path / "VOC" / "SegmentationClass" / "2007_000032.png")
    classes = ("background", "dog", "cat")  # another order: matched by name
    import_labels("voc", tmp_path / "VOC" / "SegmentationClass", folder, classes, voc_colormap(3))
    labels, _ = saved(folder, "2007_000032.jpg", classes)
    assert np.array_equal(labels, np.choose(np.searchsorted([0, 8, 12, 255], lab), [0, 2, 1, VOID]).astype(np.uint8))


def test_masks_by_value_and_by_colour(tmp_path):
    folder = images(tmp_path / "imgs", {"a.jpg": (20, 30), "b.jpg": (20, 30)})
    lab = labels_map(5, 20, 30)
    (tmp_path / "m").mkdir()
    Image.fromarray(lab, mode="L").save(tmp_path / "m" / "a.png")  # grey values: class indices
    Image.fromarray(full_palette(np.asarray(COLORS))[lab]).save(tmp_path / "m" / "b.png")  # the model's colours
    imp("masks", tmp_path / "m", folder, verified=True)
    for name in ("a.jpg", "b.jpg"):
        labels, verified = saved(folder, name)
        assert np.array_equal(labels, lab) and verified.all()


# --- classes --------------------------------------------------------------------------------------------------

def test_unknown_classes_are_named_in_one_sentence_and_a_mapping_file_places_them(tmp_path):
    folder = images(tmp_path / "imgs", {"a.jpg": (20, 30)})
    (tmp_path / "m").mkdir()
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[2:8, 2:8] = (12, 34, 56)
    rgb[10:15, 10:15] = COLORS[2]
    Image.fromarray(rgb).save(tmp_path / "m" / "a.png")
    with pytest.raises(ValueError, match=r"class this model does not have: “colour #0c2238” \(first in a.png\)") as e:
        imp("masks", tmp_path / "m", folder)
    assert "class mapping file" in str(e.value) and workspace_files(folder) == {}
    (tmp_path / "map.json").write_text(json.dumps({"#0C2238": "c"}))
    imp("masks", tmp_path / "m", folder, mapping=tmp_path / "map.json")
    labels, _ = saved(folder, "a.jpg")
    assert labels[3, 3] == 3 and labels[12, 12] == 2 and labels[0, 0] == 0

    (tmp_path / "lm").mkdir()
    lab = np.zeros((20, 30), np.uint8)
    lab[2:9, 2:9] = 1
    doc = json.loads(labelme_document(labelme_shapes(lab, ("background", "kitty")), "a.jpg", 20, 30))
    (tmp_path / "lm" / "a.json").write_text(json.dumps(doc))
    (tmp_path / "map2.json").write_text(json.dumps({"kitty": "void"}))
    imp("labelme", tmp_path / "lm", folder, mapping=tmp_path / "map2.json", overwrite=True)
    assert saved(folder, "a.jpg")[0][4, 4] == VOID
    (tmp_path / "map3.json").write_text(json.dumps({"kitty": "tiger"}))
    with pytest.raises(ValueError, match="sends names to 'tiger', which this model's classes lack"):
        imp("labelme", tmp_path / "lm", folder, mapping=tmp_path / "map3.json", overwrite=True)
    (tmp_path / "map4.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="is not a class mapping"):
        imp("labelme", tmp_path / "lm", folder, mapping=tmp_path / "map4.json", overwrite=True)


# --- all or nothing -------------------------------------------------------------------------------------------

def _two_labelme_files(tmp_path: Path, folder: Path) -> Path:
    (tmp_path / "lm").mkdir(exist_ok=True)
    for name in ("a.jpg", "b.jpg"):
        lab = labels_map(len(name), 20, 30)
        (tmp_path / "lm" / f"{Path(name).stem}.json").write_bytes(
            labelme_document(labelme_shapes(lab, CLASSES), name, 20, 30))
    return tmp_path / "lm"


def _corrupt(path: Path) -> None:
    path.write_text(path.read_text()[:-40])


@pytest.mark.parametrize("spoil, words", [
    (lambda lm, f: _corrupt(lm / "b.json"), "b.json is not valid JSON"),
    (lambda lm, f: (f / "b.jpg").unlink(), "1 annotated image is not in"),
    (lambda lm, f: Image.new("RGB", (31, 20)).save(f / "b.jpg"), "b.json is 30×20, but b.jpg is 31×20"),
    (lambda lm, f: (lm / "b.json").write_text((lm / "b.json").read_text().replace('"a"', '"zebra"')), "“zebra”"),
])
def test_one_bad_file_leaves_the_workspace_exactly_as_it_was(tmp_path, spoil, words):
    folder = images(tmp_path / "imgs", {"a.jpg": (20, 30), "b.jpg": (20, 30), "c.jpg": (20, 30)})
    ws = Workspace.beside(folder)
    ws.save(folder / "c.jpg", LabelDocument(np.ones((20, 30), np.uint8)), full_palette(np.asarray(COLORS)), CLASSES)
    before = workspace_files(folder)
    lm = _two_labelme_files(tmp_path, folder)
    spoil(lm, folder)
    with pytest.raises(ValueError, match=words) as e:
        imp("labelme", lm, folder)
    assert "\n" not in str(e.value)
    assert workspace_files(folder) == before
    assert sorted(p.name for p in folder.parent.iterdir() if p.name.startswith(".")) == []  # no stage left


def test_existing_corrections_are_replaced_only_on_request_and_a_cancel_changes_nothing(tmp_path):
    folder = images(tmp_path / "imgs", {"a.jpg": (20, 30), "b.jpg": (20, 30)})
    lm = _two_labelme_files(tmp_path, folder)
    Workspace.beside(folder).save(folder / "a.jpg", LabelDocument(np.full((20, 30), 2, np.uint8)),
                                  full_palette(np.asarray(COLORS)), CLASSES)
    before = workspace_files(folder)
    with pytest.raises(ValueError, match=r"1 image already has corrections \(a.jpg\).*--overwrite"):
        imp("labelme", lm, folder)
    assert workspace_files(folder) == before
    calls = []
    with pytest.raises(ImportCancelled):
        imp("labelme", lm, folder, overwrite=True, cancel=lambda: len(calls) > 1, progress=lambda i, n: calls.append(i))
    assert workspace_files(folder) == before
    summary = imp("labelme", lm, folder, overwrite=True)
    assert summary.replaced == ("a.jpg",) and summary.imported == ("a.jpg", "b.jpg")
    assert (saved(folder, "a.jpg")[0] != 2).any()


@pytest.mark.parametrize("segmentation, words", [
    ({"counts": "PPYo0", "size": [10, 10]}, "an RLE of the wrong size"),
    ({"counts": [5, 5], "size": [20, 30]}, "an RLE of the wrong size"),
    ({"counts": "abc", "size": [99, 30]}, "an RLE of the wrong size"),
    ([[1, 1, 40, 1, 5, 9]], "reaches outside the 30×20 image"),
    ([[1, 1, 4]], "not lists of x, y numbers"),
    ("x", "neither polygons nor an RLE"),
])
def test_bad_coco_segmentations_are_one_sentence(tmp_path, segmentation, words):
    folder = images(tmp_path / "imgs", {"a.jpg": (20, 30)})
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "height": 20, "width": 30}],
           "annotations": [{"id": 4, "image_id": 1, "category_id": 1, "segmentation": segmentation}],
           "categories": [{"id": 1, "name": "a"}]}
    (tmp_path / "c.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=words) as e:
        imp("coco", tmp_path / "c.json", folder)
    assert "annotation 4" in str(e.value) and workspace_files(folder) == {}


# --- the command ----------------------------------------------------------------------------------------------

def test_the_import_command_and_its_refusals(tmp_path, capsys):
    from fcn_core import DEMO_MODEL, load_bundle

    meta = load_bundle([DEMO_MODEL]).meta  # the classes the CLI uses without --weights
    folder = images(tmp_path / "imgs", {"a.jpg": (20, 30)})
    lab = np.zeros((20, 30), np.uint8)
    lab[3:12, 4:20] = 2
    (tmp_path / "lm").mkdir()
    (tmp_path / "lm" / "a.json").write_bytes(labelme_document(labelme_shapes(lab, meta.classes), "a.jpg", 20, 30))
    assert core_main(["import", "labelme", str(tmp_path / "lm"), "--images", str(folder), "--verified"]) == 0
    assert "imported labels for 1 image (verified)" in capsys.readouterr().out
    labels, verified = saved(folder, "a.jpg", meta.classes)
    assert np.array_equal(labels, lab) and verified.all()
    assert core_main(["import", "labelme", str(tmp_path / "lm"), "--images", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already has corrections" in err
    assert core_main(["import", "coco", str(tmp_path / "lm"), "--images", str(folder)]) == 2
    assert "is not a file: a COCO import reads one instances JSON file" in capsys.readouterr().err
    assert core_main(["import", "labelme", str(tmp_path / "lm"), "--images", str(folder), "--overwrite",
                      "--workspace", str(tmp_path / "elsewhere")]) == 0
    assert (tmp_path / "elsewhere" / "a.jpg.label.png").exists()


def test_the_commands_formats_are_the_cores():
    from fcn_core import EXPORT_FORMATS, IMPORT_KINDS
    from fcn_core.cli import build_parser
    from fcn_core.cli.import_labels import KINDS

    assert KINDS == IMPORT_KINDS
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    fmt = next(a for a in sub.choices["export"]._actions if a.dest == "dataset_format")
    assert tuple(fmt.choices) == EXPORT_FORMATS


@settings(max_examples=15, deadline=None)
@given(st.lists(hnp.arrays(np.uint8, st.tuples(st.integers(1, 16), st.integers(1, 16)),
                           elements=st.sampled_from([0, 1, 2, 3, 255])), min_size=1, max_size=3),
       st.sampled_from(["voc", "coco", "labelme"]))
def test_what_each_export_writes_imports_back_with_the_same_pixels(label_maps, fmt):
    """Export → import round trip for every format (COCO has no void: its void pixels come back as class 0)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shapes = {f"i{k}.png": lab.shape for k, lab in enumerate(label_maps)}
        src, dst = images(tmp / "src", shapes), images(tmp / "dst", shapes)
        for k, lab in enumerate(label_maps):
            Workspace.beside(src).save(src / f"i{k}.png", LabelDocument(lab), full_palette(np.asarray(COLORS)), CLASSES)
        out = tmp / "out"
        export_dataset(src, out, CLASSES, COLORS, val_fraction=0.0, dataset_format=fmt)
        path = {"voc": out, "coco": out / "annotations" / "instances_trainval.json", "labelme": out}[fmt]
        imp(fmt, path, dst)
        for k, lab in enumerate(label_maps):
            expected = np.where(lab == VOID, 0, lab) if fmt == "coco" else lab
            assert np.array_equal(saved(dst, f"i{k}.png")[0], expected)
