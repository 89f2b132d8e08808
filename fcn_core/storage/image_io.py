"""Reading images (any path, EXIF orientation, odd formats) and writing palette label PNGs."""

from __future__ import annotations

import contextlib
import io
import stat
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, PngImagePlugin

from ..memory import ensure_fits
from ..messages import one_line
from .atomic import atomic_write_bytes, atomic_write_via
from .regular_files import NotARegularFile, open_regular, read_regular

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm")
MAX_PIXELS = 400_000_000  # refuse decompression bombs before decoding (images and label PNGs alike)
MAX_FILE_BYTES = 2 << 30  # an image file larger than this is not read (an uncompressed 400 MP BMP is 1.2 GB)


class ImageReadError(ValueError):
    """An image that cannot be read, with one sentence saying why."""


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def expand_image_paths(paths) -> list[Path]:
    """Files as given; folders become their image files, sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.is_file() and is_image_path(q)))
        else:
            out.append(p)
    return out


@contextlib.contextmanager
def _our_size_policy():
    """Pillow without its own pixel cap and its DecompressionBombWarning: :data:`MAX_PIXELS` is checked
    instead, for images and label PNGs alike."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _header_size(data: bytes) -> tuple[int, int] | None:
    try:
        with _our_size_policy(), Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception:  # noqa: BLE001 - Pillow may not know the format; OpenCV still gets a try
        return None


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_png_chunks(data: bytes, name: str) -> None:
    """Refuse a PNG whose chunk lengths run past its end, before a decoder trusts them (a 141-byte file whose
    IDAT claims 4 GB made OpenCV reserve that much)."""
    pos, end = len(PNG_SIGNATURE), len(data)
    while pos + 8 <= end:
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        if length > end - pos - 12:
            raise ImageReadError(f"{name} is a damaged PNG: its {kind.decode('latin-1')!r} chunk claims "
                                 f"{length:,} bytes, the file has {end - pos - 12:,} left")
        if kind == b"IEND":
            return
        pos += 12 + length


def _check_size(size: tuple[int, int] | None, name: str) -> None:
    if size and size[0] * size[1] > MAX_PIXELS:
        raise ImageReadError(f"{name} is {size[0]}×{size[1]} pixels, more than this app will decode "
                             f"({MAX_PIXELS:,} pixels at most)")


def _to_rgb8(arr: np.ndarray) -> np.ndarray:
    """Any OpenCV decode (gray, BGR, BGRA, 16-bit, float) → RGB uint8."""
    if arr.dtype == np.uint16:
        arr = (arr >> 8).astype(np.uint8)
    elif arr.dtype != np.uint8:
        arr = np.clip(arr.astype(np.float64) * (255.0 if arr.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        return cv2.cvtColor(arr, cv2.COLOR_GRAY2RGB)
    if arr.shape[2] == 4:
        return cv2.cvtColor(arr, cv2.COLOR_BGRA2RGB)
    if arr.shape[2] == 1:
        return cv2.cvtColor(arr[:, :, 0], cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)


def _exif_orientation(data: bytes) -> int:
    try:
        with Image.open(io.BytesIO(data)) as im:
            return int(im.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001
        return 1


_ORIENT = {
    2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
    5: lambda a: np.swapaxes(a, 0, 1), 6: lambda a: np.swapaxes(a, 0, 1)[:, ::-1],
    7: lambda a: np.swapaxes(a, 0, 1)[::-1, ::-1], 8: lambda a: np.swapaxes(a, 0, 1)[::-1],
}


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Decode image bytes to H×W×3 uint8 RGB at its displayed orientation."""
    if not data:
        raise ImageReadError(f"{name} is empty")
    if data.startswith(PNG_SIGNATURE):
        check_png_chunks(data, name)
    size = _header_size(data)
    _check_size(size, name)
    if size:  # the decode (up to 4 channels of 16 bits) and the RGB copy made from it
        ensure_fits(size[0] * size[1] * (8 + 3), f"decoding {name} ({size[0]}×{size[1]})")
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        arr = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    except cv2.error:
        arr = None
    if arr is not None and arr.size:
        rgb = _to_rgb8(arr)
        orient = _exif_orientation(data)
        return np.ascontiguousarray(_ORIENT[orient](rgb)) if orient in _ORIENT else rgb
    try:  # formats OpenCV lacks (e.g. some GIF/TIFF/CMYK variants): first frame through Pillow
        with Image.open(io.BytesIO(data)) as im:
            im.seek(0)
            return np.ascontiguousarray(np.asarray(ImageOps.exif_transpose(im).convert("RGB")))
    except Exception:  # noqa: BLE001
        raise ImageReadError(f"{name} is not an image this app can read (unknown format or corrupt data)") from None


def file_bytes(path: str | Path, what: str = "image") -> bytes:
    """The bytes of an image or label file: a regular file only (a FIFO is refused, never waited on), bounded."""
    try:
        return read_regular(path, MAX_FILE_BYTES, what)
    except NotARegularFile as e:
        raise ImageReadError(str(e)) from None


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file (any path, including non-ASCII) as H×W×3 uint8 RGB, EXIF-oriented."""
    path = Path(path)
    data = file_bytes(path)
    return decode_image(data, path.name)


_REDUCED = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2))


def read_thumbnail(path: str | Path, size: int) -> np.ndarray:
    """A small H×W×3 uint8 RGB copy of an image file, longest side ≤ ``size``, oriented as :func:`read_image` does.

    JPEGs are decoded by libjpeg at 1/2, 1/4 or 1/8 scale (a 24-megapixel photo costs milliseconds, not a full
    decode); other formats are decoded and shrunk. Refuses what :func:`read_image` refuses, in the same words.
    """
    if size < 1:
        raise ValueError(f"thumbnail size must be at least 1, not {size}")
    path = Path(path)
    data = file_bytes(path)
    if not data:
        raise ImageReadError(f"{path.name} is empty")
    dims = _header_size(data)
    _check_size(dims, path.name)  # refused here too: the window would refuse to open it anyway
    rgb = None
    if data[:3] == b"\xff\xd8\xff" and dims:
        # the largest reduction that still leaves at least ``size`` pixels, so the final resize only shrinks
        flag = next((f for k, f in _REDUCED if max(dims) >= k * size), cv2.IMREAD_COLOR)
        try:  # orientation is ours to apply (as in decode_image), not OpenCV's
            arr = cv2.imdecode(np.frombuffer(data, np.uint8), flag | cv2.IMREAD_IGNORE_ORIENTATION)
        except cv2.error:
            arr = None
        if arr is not None and arr.size:
            rgb = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)
            orient = _exif_orientation(data)
            rgb = _ORIENT[orient](rgb) if orient in _ORIENT else rgb
    if rgb is None:  # not a JPEG, or one OpenCV cannot decode reduced: the full decoder and its fallbacks
        rgb = decode_image(data, path.name)
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    if scale < 1:
        rgb = cv2.resize(np.ascontiguousarray(rgb), (max(1, round(w * scale)), max(1, round(h * scale))),
                         interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb)


def encode_label_png(labels: np.ndarray, palette: np.ndarray, chunks: dict[bytes, bytes] | None = None) -> bytes:
    """A palette (mode P) PNG whose pixel values are the class indices, carrying the private ``chunks``."""
    im = Image.fromarray(np.ascontiguousarray(labels.astype(np.uint8)), mode="P")
    pal = np.zeros((256, 3), dtype=np.uint8)
    pal[: len(palette)] = palette[:256]
    im.putpalette(pal.ravel().tolist())
    info = PngImagePlugin.PngInfo()
    for cid, data in (chunks or {}).items():
        info.add(cid, data)
    out = io.BytesIO()
    # zlib level 1: a noisy 500×375 label map encodes in 1.5 ms instead of 15 (level 6) for 20 % more
    # bytes; `predict` on a GPU writes hundreds of these a second, the window one per save
    im.save(out, format="PNG", optimize=False, pnginfo=info, compress_level=1)
    return out.getvalue()


def write_label_png(path: str | Path, labels: np.ndarray, palette: np.ndarray, durable: bool = True) -> None:
    """Write a palette label PNG atomically (``durable`` as in :func:`atomic_write_via`)."""
    atomic_write_bytes(path, encode_label_png(labels, palette), durable)


def write_mask_png(path: str | Path, mask: np.ndarray) -> None:
    """Write a boolean mask as a grayscale PNG (0 and 255) atomically."""
    image = Image.fromarray((np.asarray(mask, bool) * 255).astype(np.uint8), mode="L")
    atomic_write_via(path, lambda tmp: image.save(tmp, format="PNG"))


def read_label_png(path: str | Path) -> np.ndarray:
    """The class indices of a label PNG (palette or grayscale), H×W uint8."""
    return read_label_png_chunks(path)[0]


def read_label_png_chunks(path: str | Path) -> tuple[np.ndarray, dict[bytes, bytes]]:
    """A label PNG's class indices and its private chunks (those :func:`encode_label_png` wrote)."""
    path = Path(path)
    data = file_bytes(path, "label PNG")
    if data.startswith(PNG_SIGNATURE):
        check_png_chunks(data, path.name)
    try:
        with _our_size_policy(), Image.open(io.BytesIO(data)) as im:
            _check_size(im.size, path.name)
            if im.mode not in ("P", "L"):
                raise ImageReadError(f"{path.name} is a {im.mode} image, not a palette or grayscale label PNG")
            labels = np.array(im)
            chunks = {c[0]: c[1] for c in getattr(im, "private_chunks", [])}
            return labels, chunks
    except ImageReadError:
        raise
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001
        raise ImageReadError(f"{path.name} is not a readable label PNG ({one_line(e)})") from None


PROBE_BYTES = 1 << 20  # enough for any header we know (EXIF blocks included)


def probe_image(path: str | Path) -> tuple[int, int] | None:
    """Check cheaply that ``path`` looks like an image this app can open, before it is listed: a regular file,
    not empty, whose header parses and whose size is within the cap. Returns (width, height), or None when
    only a full decode can tell (a format Pillow's header reader does not know). Raises :class:`ImageReadError`."""
    path = Path(path)
    try:
        with open_regular(path, MAX_FILE_BYTES, "image") as f:
            head = f.read(PROBE_BYTES)
    except NotARegularFile as e:
        raise ImageReadError(str(e)) from None
    except OSError as e:
        raise ImageReadError(f"{path} cannot be read: {e.strerror or e}") from None
    if not head:
        raise ImageReadError(f"{path.name} is empty")
    size = _header_size(head)
    if size is None:
        if cv2.haveImageReader(str(path)):
            return None  # OpenCV knows the signature: the full decode decides
        raise ImageReadError(f"{path.name} is not an image this app can read (unknown format or corrupt data)")
    _check_size(size, path.name)
    return size


def displayed_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of an image as :func:`read_image` shows it (EXIF rotations applied), from its header
    where Pillow reads one, else from a full decode."""
    path = Path(path)
    data = file_bytes(path)
    size = _header_size(data)
    if size is None:
        return decode_image(data, path.name).shape[:2]
    _check_size(size, path.name)
    w, h = size
    return (w, h) if _exif_orientation(data) in (5, 6, 7, 8) else (h, w)
