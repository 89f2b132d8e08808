"""Reading images of every kind, and palette label PNGs."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from fcn_core import ImageReadError, read_image, read_label_png, write_label_png
from fcn_core.model.palette import full_palette, voc_colormap


def _photo(h=30, w=40):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    img[:5, :8] = (255, 0, 0)
    return img


def test_non_ascii_path_with_spaces(tmp_path):
    img = _photo()
    path = tmp_path / "dossier é 图像" / "photo ünï.png"
    path.parent.mkdir()
    Image.fromarray(img).save(path)
    assert np.array_equal(read_image(path), img)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16"])
def test_odd_modes_become_rgb(tmp_path, mode):
    img = _photo()
    if mode == "I;16":
        arr = (img[:, :, 0].astype(np.uint16) * 257)
        path = tmp_path / "deep.png"
        cv2.imwrite(str(path), arr)
        out = read_image(path)
        assert np.array_equal(out[:, :, 0], img[:, :, 0])
        return
    pil = Image.fromarray(img).convert(mode)
    path = tmp_path / f"x_{mode}.png"
    pil.save(path)
    out = read_image(path)
    assert out.shape == (30, 40, 3) and out.dtype == np.uint8
    assert np.array_equal(out, np.asarray(pil.convert("RGB")))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path, orientation):
    img = Image.fromarray(_photo(20, 30))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    img.save(path, exif=exif, quality=95)
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    got = read_image(path)
    assert got.shape == expected.shape
    assert np.abs(got.astype(int) - expected.astype(int)).mean() < 2.0


def test_unreadable_files_are_refused_with_a_sentence(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello, not an image")
    good = io.BytesIO()
    Image.fromarray(_photo()).save(good, format="JPEG")
    (tmp_path / "cut.jpg").write_bytes(good.getvalue()[:40])
    for name, match in [("empty.png", "empty"), ("text.png", "not an image"), ("cut.jpg", "not an image"),
                        ("missing.png", "does not exist")]:
        with pytest.raises(ImageReadError, match=match):
            read_image(tmp_path / name)
    with pytest.raises(ImageReadError, match="folder"):
        read_image(tmp_path)


def test_label_png_is_palette_with_class_indices(tmp_path):
    labels = np.zeros((12, 9), np.uint8)
    labels[2:5, 3:7] = 15
    labels[0, 0] = 255
    path = tmp_path / "l.png"
    write_label_png(path, labels, full_palette(voc_colormap(21)))
    with Image.open(path) as im:
        assert im.mode == "P"
        assert im.getpalette()[15 * 3: 15 * 3 + 3] == [192, 128, 128]
        assert im.getpalette()[255 * 3: 255 * 3 + 3] == [224, 224, 192]
    assert np.array_equal(read_label_png(path), labels)
    assert [p.name for p in tmp_path.iterdir()] == ["l.png"]  # no temporary file left behind
