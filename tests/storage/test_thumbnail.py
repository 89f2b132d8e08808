"""Thumbnails: reduced JPEG decoding, EXIF orientation, odd shapes, and the refusals of read_image."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from fcn_core import ImageReadError, read_image, read_thumbnail
from fcn_core.storage import image_io


def _scene(h: int, w: int) -> np.ndarray:
    """Smooth gradients with a red corner: compresses fast, and shows which way up it is."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // w, y * 255 // h, np.full_like(x, 90)], axis=-1).astype(np.uint8)
    img[: h // 5, : w // 5] = (255, 0, 0)
    return img


def test_big_jpeg_is_decoded_reduced_with_its_aspect(tmp_path, monkeypatch):
    path = tmp_path / "big.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(_scene(4000, 6000), cv2.COLOR_RGB2BGR))
    flags = []
    imdecode = cv2.imdecode
    monkeypatch.setattr(image_io.cv2, "imdecode", lambda buf, f: flags.append(f) or imdecode(buf, f))
    start = time.perf_counter()
    thumb = read_thumbnail(path, 64)
    print(f"6000×4000 JPEG thumbnail in {time.perf_counter() - start:.3f} s")  # measured, not asserted
    assert thumb.dtype == np.uint8 and thumb.shape == (43, 64, 3)
    assert flags and flags[0] & ~cv2.IMREAD_IGNORE_ORIENTATION == cv2.IMREAD_REDUCED_COLOR_8
    assert tuple(thumb[2, 2]) == pytest.approx((255, 0, 0), abs=40)  # the red corner stays top-left


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_read_image(tmp_path, orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    Image.fromarray(_scene(400, 600)).save(path, exif=exif, quality=95)
    with Image.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    assert read_image(path).shape == expected.shape
    thumb = read_thumbnail(path, 60)
    h, w = expected.shape[:2]
    assert thumb.shape == ((40, 60, 3) if w > h else (60, 40, 3))
    small = cv2.resize(expected, (thumb.shape[1], thumb.shape[0]), interpolation=cv2.INTER_AREA)
    assert np.abs(thumb.astype(int) - small.astype(int)).mean() < 8


@pytest.mark.parametrize("h, w, expected", [(500, 1, (48, 1, 3)), (1, 500, (1, 48, 3)), (200, 300, (32, 48, 3)),
                                            (20, 30, (20, 30, 3))])
def test_png_shapes_shrink_but_never_grow(tmp_path, h, w, expected):
    path = tmp_path / "x.png"
    Image.fromarray(_scene(h, w)).save(path)
    assert read_thumbnail(path, 48).shape == expected


def test_refuses_what_read_image_refuses(tmp_path, monkeypatch):
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello, not an image")
    Image.fromarray(_scene(30, 40)).save(tmp_path / "good.jpg")
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "good.jpg").read_bytes()[:40])
    for name, match in [("empty.jpg", "empty"), ("text.png", "not an image"), ("cut.jpg", "not an image"),
                        ("missing.png", "does not exist")]:
        with pytest.raises(ImageReadError, match=match):
            read_thumbnail(tmp_path / name, 48)
    with pytest.raises(ImageReadError, match="folder"):
        read_thumbnail(tmp_path, 48)
    monkeypatch.setattr(image_io, "MAX_PIXELS", 1000)
    with pytest.raises(ImageReadError, match="more than this app will decode"):
        read_thumbnail(tmp_path / "good.jpg", 48)
