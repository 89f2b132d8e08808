"""Odd but valid images are read at their displayed size; broken ones are refused with one sentence."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from fcn_core import Engine, ImageReadError, read_image
from fcn_core.storage.image_io import decode_image


def _png_header_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims a gigantic size (a decompression bomb) with almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("size", [(1, 1), (1, 10000), (10000, 1)])
def test_extreme_shapes_are_read_and_segmented(tmp_path, tiny_bundle, size):
    h, w = size
    path = tmp_path / "thin.png"
    Image.fromarray(np.full((h, w, 3), 128, np.uint8)).save(path)
    img = read_image(path)
    assert img.shape == (h, w, 3)
    if h * w <= 10000:
        assert Engine(tiny_bundle, "cpu").segment(img).labels.shape == (h, w)


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (20, 10), (0, 255, 255, 0)).save(path)  # red in CMYK
    img = read_image(path)
    assert img.shape == (10, 20, 3)
    assert img[5, 10, 0] > 200 and img[5, 10, 1] < 60


@pytest.mark.parametrize("fmt", ["GIF", "TIFF"])
def test_multi_frame_files_give_the_first_frame(tmp_path, fmt):
    frames = [Image.new("RGB", (16, 12), c) for c in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / f"multi.{fmt.lower()}"
    frames[0].save(path, format=fmt, save_all=True, append_images=frames[1:])
    img = read_image(path)
    assert img.shape == (12, 16, 3) and img[0, 0, 0] > 200 and img[0, 0, 2] < 60


def test_decompression_bomb_is_refused():
    with pytest.raises(ImageReadError, match="100000×100000 pixels"):
        decode_image(_png_header_claiming(100_000, 100_000), "bomb.png")


@pytest.mark.parametrize("data,match", [
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "not an image"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 100, "not an image"),
    (b"GIF89a", "not an image"),
])
def test_corrupt_headers(data, match):
    with pytest.raises(ImageReadError, match=match):
        decode_image(data, "x")


def test_truncated_png_is_refused_or_read_whole(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(buf, format="PNG")
    data = buf.getvalue()
    try:
        img = decode_image(data[: len(data) // 2], "half.png")
    except ImageReadError as e:
        assert "half.png" in str(e) and "\n" not in str(e)
    else:
        assert img.shape == (64, 64, 3)
