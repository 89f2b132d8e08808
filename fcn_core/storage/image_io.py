"""Reading images (any path, EXIF orientation, odd formats) and writing palette label PNGs."""

from __future__ import annotations

import io
import stat
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, PngImagePlugin

from .atomic import atomic_write_bytes, atomic_write_via

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm")
MAX_PIXELS = 400_000_000  # refuse decompression bombs before decoding


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


def _header_size(data: bytes) -> tuple[int, int] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # we judge the size ourselves
            try:
                with Image.open(io.BytesIO(data)) as im:
                    return im.size
            finally:
                Image.MAX_IMAGE_PIXELS = saved
    except Exception:  # noqa: BLE001 - Pillow may not know the format; OpenCV still gets a try
        return None


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
    size = _header_size(data)
    if size and size[0] * size[1] > MAX_PIXELS:
        raise ImageReadError(f"{name} claims {size[0]}×{size[1]} pixels, more than this app will decode")
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


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file (any path, including non-ASCII) as H×W×3 uint8 RGB, EXIF-oriented."""
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"{path} does not exist")
    if path.is_dir():
        raise ImageReadError(f"{path} is a folder, not an image")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ImageReadError(f"{path} cannot be read: {e.strerror or e}") from None
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
    if not path.exists():
        raise ImageReadError(f"{path} does not exist")
    if path.is_dir():
        raise ImageReadError(f"{path} is a folder, not an image")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ImageReadError(f"{path} cannot be read: {e.strerror or e}") from None
    if not data:
        raise ImageReadError(f"{path.name} is empty")
    dims = _header_size(data)
    if dims and dims[0] * dims[1] > MAX_PIXELS:  # refused here too: the window would refuse to open it anyway
        raise ImageReadError(f"{path.name} claims {dims[0]}×{dims[1]} pixels, more than this app will decode")
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
    im.save(out, format="PNG", optimize=False, pnginfo=info)
    return out.getvalue()


def write_label_png(path: str | Path, labels: np.ndarray, palette: np.ndarray) -> None:
    """Write a palette label PNG atomically."""
    atomic_write_bytes(path, encode_label_png(labels, palette))


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
    try:
        with Image.open(path) as im:
            if im.mode not in ("P", "L"):
                raise ImageReadError(f"{path.name} is a {im.mode} image, not a palette or grayscale label PNG")
            labels = np.array(im)
            chunks = {c[0]: c[1] for c in getattr(im, "private_chunks", [])}
            return labels, chunks
    except ImageReadError:
        raise
    except Exception as e:  # noqa: BLE001
        raise ImageReadError(f"{path.name} is not a readable label PNG ({e})") from None


PROBE_BYTES = 1 << 20  # enough for any header we know (EXIF blocks included)


def probe_image(path: str | Path) -> tuple[int, int] | None:
    """Check cheaply that ``path`` looks like an image this app can open, before it is listed: a regular file,
    not empty, whose header parses and whose size is within the cap. Returns (width, height), or None when
    only a full decode can tell (a format Pillow's header reader does not know). Raises :class:`ImageReadError`."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as e:
        raise ImageReadError(f"{path} does not exist" if not path.exists() else f"{path} cannot be read: {e.strerror or e}") from None
    if path.is_dir():
        raise ImageReadError(f"{path} is a folder, not an image")
    if not stat.S_ISREG(st.st_mode):
        raise ImageReadError(f"{path} is not a regular file (a pipe or a device), so it is not opened")
    if st.st_size == 0:
        raise ImageReadError(f"{path.name} is empty")
    try:
        with open(path, "rb") as f:
            head = f.read(PROBE_BYTES)
    except OSError as e:
        raise ImageReadError(f"{path} cannot be read: {e.strerror or e}") from None
    size = _header_size(head)
    if size is None:
        if cv2.haveImageReader(str(path)):
            return None  # OpenCV knows the signature: the full decode decides
        raise ImageReadError(f"{path.name} is not an image this app can read (unknown format or corrupt data)")
    if size[0] * size[1] > MAX_PIXELS:
        raise ImageReadError(f"{path.name} claims {size[0]}×{size[1]} pixels, more than this app will decode")
    return size
