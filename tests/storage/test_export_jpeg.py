"""Export copies JPEG sources byte for byte; other formats (and rotated JPEGs) are encoded as JPEG."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fcn_core.labels.document import LabelDocument
from fcn_core.model.palette import voc_colormap
from fcn_core.storage.export import export_dataset, read_exported_item
from fcn_core.storage.image_io import read_image
from fcn_core.storage.workspace import Workspace

CLASSES = ("background", "a", "b")
COLORS = tuple(tuple(int(x) for x in c) for c in voc_colormap(3))


def _scene(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x ^ y) & 255], -1).astype(np.uint8)


def _correct(path):
    h, w = read_image(path).shape[:2]
    labels = np.zeros((h, w), np.uint8)
    labels[: h // 2] = 1
    Workspace.beside(path.parent).save(path, LabelDocument(labels, None, n_class=3), np.asarray(COLORS), CLASSES)
    return labels


@pytest.mark.parametrize("name,kwargs", [("p.jpg", {"quality": 80}), ("g.jpeg", {"progressive": True}),
                                         ("misnamed.png", {})])
def test_a_jpeg_source_is_exported_byte_for_byte(tmp_path, name, kwargs):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(_scene(37, 53)).save(src / name, format="JPEG", **kwargs)
    labels = _correct(src / name)
    out = tmp_path / "out"
    export_dataset(src, out, CLASSES, COLORS, val_fraction=0)
    item = name.split(".")[0]
    assert (out / "JPEGImages" / f"{item}.jpg").read_bytes() == (src / name).read_bytes()
    assert np.array_equal(read_exported_item(out, item)[0], labels)


def test_a_png_source_is_encoded_as_a_jpeg_of_its_size(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(_scene(37, 53)).save(src / "p.png")
    _correct(src / "p.png")
    export_dataset(src, tmp_path / "out", CLASSES, COLORS, val_fraction=0)
    data = (tmp_path / "out" / "JPEGImages" / "p.jpg").read_bytes()
    assert data[:3] == b"\xff\xd8\xff"
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG" and im.size == (53, 37)


def test_a_rotated_jpeg_is_encoded_upright_to_fit_its_labels(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed turned 90°: the labels are drawn 53 high, 37 wide
    Image.fromarray(_scene(37, 53)).save(src / "r.jpg", exif=exif.tobytes())
    labels = _correct(src / "r.jpg")
    assert labels.shape == (53, 37)
    export_dataset(src, tmp_path / "out", CLASSES, COLORS, val_fraction=0)
    data = (tmp_path / "out" / "JPEGImages" / "r.jpg").read_bytes()
    assert data != (src / "r.jpg").read_bytes()
    with Image.open(io.BytesIO(data)) as im:  # as a dataset reader sees it, EXIF ignored
        assert im.size == (37, 53)


def test_a_cmyk_jpeg_is_encoded_as_rgb(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    Image.new("CMYK", (20, 10), (0, 255, 255, 0)).save(src / "c.jpg")
    _correct(src / "c.jpg")
    export_dataset(src, tmp_path / "out", CLASSES, COLORS, val_fraction=0)
    with Image.open(tmp_path / "out" / "JPEGImages" / "c.jpg") as im:
        assert im.mode == "RGB" and im.size == (20, 10)
