"""labelme JSON: our shapes give back the label map exactly, and labelme's own code agrees with us both ways.

labelme is a PyQt5 application: its package is imported in a child process only, never beside PySide6.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from fcn_core.model.palette import VOID
from fcn_core.storage.labelme_format import (LABELME_IGNORE, labelme_document, labelme_labels_txt, labelme_shapes,
                                             parse_labelme, rasterise)

CLASSES = ("background", "a", "b", "c")
INDEX = {"_background_": 0, "a": 1, "b": 2, "c": 3, LABELME_IGNORE: VOID}

# labelme's shapes_to_label on each JSON file given, with labels.txt's numbering (-1: __ignore__), saved as .npy;
# with --rewrite first, labelme's own writer writes each file anew from its shapes
PEER = """
import json, sys
import numpy as np
from labelme._label_file import LabelFile, write_label_file
from labelme.utils.shape import shapes_to_label
if sys.argv[1] == "--rewrite":
    sys.argv.pop(1)
    for path in sys.argv[2:]:
        raw = json.load(open(path))
        write_label_file(path, shapes=raw["shapes"], image_path=raw["imagePath"], image_height=raw["imageHeight"],
                         image_width=raw["imageWidth"])
names = [l.strip() for l in open(sys.argv[1]) if l.strip()]
value = {n: i - 1 for i, n in enumerate(names)}
for path in sys.argv[2:]:
    raw = json.load(open(path))
    lf = LabelFile(path)
    cls, _ = shapes_to_label((raw["imageHeight"], raw["imageWidth"]), lf.shapes, value)
    np.save(path + ".npy", cls)
"""


def labelme_reads(folder: Path, files: list[Path], rewrite: bool = False) -> list[np.ndarray]:
    """What labelme itself makes of our files (its ``LabelFile`` and ``shapes_to_label``), 255 for void;
    ``rewrite``: labelme's writer first writes each file anew (what labelme saves is then what we read)."""
    pytest.importorskip("labelme", reason="labelme's package is the peer these files are checked against")
    (folder / "labels.txt").write_bytes(labelme_labels_txt(CLASSES))
    run = subprocess.run([sys.executable, "-c", PEER, *(["--rewrite"] if rewrite else []),
                          str(folder / "labels.txt"), *map(str, files)],
                         capture_output=True, text=True, timeout=120, env={"QT_QPA_PLATFORM": "offscreen",
                                                                            "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-2000:]
    return [np.where(c < 0, VOID, c).astype(np.uint8) for c in (np.load(f"{f}.npy") for f in files)]


def blobs(seed: int, h: int, w: int, void: bool) -> np.ndarray:
    """A label map of blocky regions, holes and islands included (like corrected masks, unlike noise)."""
    import cv2

    rng = np.random.default_rng(seed)
    small = rng.integers(0, len(CLASSES), (max(1, h // 6), max(1, w // 6))).astype(np.uint8)
    labels = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    if void:
        labels[rng.random(labels.shape) < 0.02] = VOID
    return labels


def round_trip(labels: np.ndarray) -> np.ndarray:
    doc = labelme_document(labelme_shapes(labels, CLASSES), "x.jpg", *labels.shape)
    return rasterise(parse_labelme(doc, "x.json"), INDEX.__getitem__)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 24), st.integers(1, 24)), elements=st.sampled_from([0, 1, 2, 3, 255])))
def test_any_label_map_survives_the_trip_through_labelme_shapes(labels):
    assert np.array_equal(round_trip(labels), labels)


def test_regions_are_polygons_holes_are_kept_and_background_inside_a_hole_gets_its_shape():
    labels = np.zeros((40, 50), np.uint8)
    labels[5:35, 5:45] = 1
    labels[12:28, 12:38] = 0  # a hole of background
    labels[16:24, 18:30] = 2  # an island in the hole
    shapes = labelme_shapes(labels, CLASSES)
    assert [s["label"] for s in shapes] == ["a", "_background_", "b"]  # outer first, then what lies inside
    assert all(s["shape_type"] == "polygon" for s in shapes)
    assert np.array_equal(round_trip(labels), labels)


def test_labelme_reads_our_export_with_the_same_pixels(tmp_path):
    maps = [blobs(s, h, w, void=s % 2 == 0) for s, (h, w) in enumerate([(40, 60), (73, 31), (120, 90), (9, 9)])]
    files = []
    for i, labels in enumerate(maps):
        Image.fromarray(np.zeros((*labels.shape, 3), np.uint8)).save(tmp_path / f"{i}.jpg")
        files.append(tmp_path / f"{i}.json")
        files[-1].write_bytes(labelme_document(labelme_shapes(labels, CLASSES), f"{i}.jpg", *labels.shape))
    for ours, theirs in zip(maps, labelme_reads(tmp_path, files)):
        assert np.array_equal(theirs, ours)


def test_every_shape_type_labelme_draws_is_rasterised_as_labelme_rasterises_it(tmp_path):
    """A file as labelme writes it: every shape type, fractional points, overlaps (later over earlier)."""
    import base64
    import io

    mask = np.zeros((6, 9), np.uint8)
    mask[1:5, 2:8] = 255
    png = io.BytesIO()
    Image.fromarray(mask).save(png, format="PNG")
    shapes = [
        ("a", "polygon", [[3.2, 4.7], [50.5, 8.1], [40.9, 60.2], [10.1, 50.0]]),
        ("b", "rectangle", [[30.4, 30.6], [12.2, 70.9]]),
        ("c", "circle", [[60.5, 20.5], [70.2, 31.7]]),
        ("a", "line", [[2.0, 78.0], [78.0, 70.5]]),
        ("b", "linestrip", [[5.0, 5.0], [20.5, 2.0], [35.5, 9.5], [41.0, 1.0]]),
        ("c", "point", [[70.5, 70.5]]),
        ("_background_", "oriented_rectangle", [[20, 20], [30, 25], [25, 35], [15, 30]]),
        ("__ignore__", "polygon", [[44, 44], [48, 44], [46, 49]]),
        ("c", "mask", [[60, 50], [68, 55]]),
    ]
    doc = {"version": "5.5.0", "flags": {}, "imagePath": "img.jpg", "imageData": None, "imageHeight": 80,
           "imageWidth": 80, "shapes": [{"label": lab, "shape_type": kind, "points": pts, "group_id": None,
                                         "description": "", "flags": {},
                                         "mask": base64.b64encode(png.getvalue()).decode() if kind == "mask" else None}
                                        for lab, kind, pts in shapes]}
    Image.fromarray(np.zeros((80, 80, 3), np.uint8)).save(tmp_path / "img.jpg")
    path = tmp_path / "img.json"
    path.write_text(json.dumps(doc))
    (theirs,) = labelme_reads(tmp_path, [path], rewrite=True)  # the file as labelme's writer saves it
    assert json.loads(path.read_text())["version"] != "5.5.0"  # labelme wrote it (its own version number)
    ours = rasterise(parse_labelme(path.read_bytes(), path.name), INDEX.__getitem__)
    assert len(np.unique(ours)) == 5  # every class and void drawn somewhere
    assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("change, words", [
    (lambda d: d.update(shapes="no"), "no list of shapes"),
    (lambda d: d.pop("imagePath"), "does not name its image"),
    (lambda d: d.update(imageHeight=0), "does not give its image's size"),
    (lambda d: d["shapes"][0].update(points=[[1, 1], [200, 5], [3, 9]]), "outside the 60×40 image"),
    (lambda d: d["shapes"][0].update(points=[[1, 1], [2, 5]]), "needs 3 or more points"),
    (lambda d: d["shapes"][0].update(shape_type="cuboid"), "labelme does not draw"),
    (lambda d: d["shapes"][0].update(points=[[1, "x"], [2, 5], [3, 3]]), "not a list of [x, y] numbers"),
    (lambda d: d["shapes"][0].pop("label"), "has no label"),
    (lambda d: d["shapes"][0].update(shape_type="mask", points=[[1, 1], [3, 3]], mask="!!"), "not a base64 PNG"),
])
def test_a_bad_labelme_file_gets_one_sentence(change, words):
    labels = np.zeros((40, 60), np.uint8)
    labels[5:20, 10:30] = 1
    doc = json.loads(labelme_document(labelme_shapes(labels, CLASSES), "x.jpg", 40, 60))
    change(doc)
    with pytest.raises(ValueError, match="x.json") as err:
        parse_labelme(json.dumps(doc).encode(), "x.json")
    assert words in str(err.value) and "\n" not in str(err.value)


def test_broken_json_is_one_sentence():
    with pytest.raises(ValueError, match=r"x.json is not valid JSON"):
        parse_labelme(b'{"shapes": [', "x.json")


def test_the_labelme_export_opens_in_labelme_with_the_corrected_pixels_and_imports_back(tmp_path):
    from fcn_core.cli import main as core_main
    from fcn_core.labels.document import LabelDocument
    from fcn_core.model.palette import full_palette, voc_colormap
    from fcn_core.storage.export import export_dataset
    from fcn_core.storage.label_import import import_labels
    from fcn_core.storage.workspace import Workspace

    colors = voc_colormap(len(CLASSES))
    folder = tmp_path / "imgs"
    folder.mkdir()
    maps = {"a.png": blobs(7, 40, 60, void=True), "b.jpg": blobs(8, 25, 35, void=False)}
    for name, labels in maps.items():
        Image.fromarray(np.full((*labels.shape, 3), 90, np.uint8)).save(folder / name)
        Workspace.beside(folder).save(folder / name, LabelDocument(labels), full_palette(colors), CLASSES)
    out = tmp_path / "for_labelme"
    summary = export_dataset(folder, out, CLASSES, colors, dataset_format="labelme")
    assert summary.written == 2
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "a.json", "b.jpg", "b.json", "labels.txt"]
    theirs = labelme_reads(out, [out / "a.json", out / "b.json"])
    assert all(np.array_equal(t, maps[n]) for t, n in zip(theirs, ("a.png", "b.jpg")))
    back = tmp_path / "back"
    back.mkdir()
    for name, labels in maps.items():
        Image.fromarray(np.zeros((*labels.shape, 3), np.uint8)).save(back / name)
    for f in out.glob("*.npy"):
        f.unlink()
    import_labels("labelme", out, back, CLASSES, colors)
    for name, labels in maps.items():
        got = Workspace.beside(back).load_labels(back / name, labels.shape, CLASSES)
        assert np.array_equal(got.labels, labels)
    # a second export into the same folder is refused; nothing there changes
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert core_main(["export", str(folder), "--out", str(out), "--format", "labelme"]) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
