"""The workspace: each image's corrected labels, verified mask and state, saved atomically beside the images.

The label PNG is the unit a save commits: it carries the verified mask and the class names in private chunks,
so one rename replaces labels, mask and classes together and a kill between files can never pair a new label
with an old mask or another model's class names. The ``.verified.png`` and ``.state.json`` beside it are
readable copies written after it.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from ..labels.class_mapping import ClassMismatch, map_labels  # noqa: F401 - ClassMismatch: what load_labels raises
from ..labels.document import LabelDocument
from ..model.palette import VOID
from .atomic import atomic_write_bytes, remove_stale_temps
from .json_input import parse_json
from .regular_files import NotARegularFile, open_regular, read_regular
from .image_io import MAX_FILE_BYTES, ImageReadError, encode_label_png, read_label_png, read_label_png_chunks, write_mask_png

WORKSPACE_DIR = "fcn_workbench_labels"
# ancillary, private, not safe to copy: a tool that edits the pixels drops it rather than keep a stale mask
VERIFIED_CHUNK = b"vrFY"
# the class names the pixel values index, as JSON (ancillary, private, not safe to copy, like the mask)
CLASSES_CHUNK = b"clAS"
MAX_STATE_BYTES = 1_000_000  # a state.json or classes chunk larger than this was not written by us


_swept: set[Path] = set()  # workspace folders whose leftovers this process has removed


def _labels_crc(labels: np.ndarray) -> bytes:
    return zlib.crc32(np.ascontiguousarray(labels, np.uint8).tobytes()).to_bytes(4, "big")


def pack_verified(verified: np.ndarray, labels: np.ndarray) -> bytes:
    """The label PNG's verified chunk: the labels' CRC-32, then the mask bit-packed and deflated."""
    return _labels_crc(labels) + zlib.compress(np.packbits(verified.astype(bool), axis=None).tobytes())


def unpack_verified(data: bytes, labels: np.ndarray) -> np.ndarray | None:
    """The mask :func:`pack_verified` made for exactly these ``labels``; None if the chunk is not that."""
    if len(data) < 4 or data[:4] != _labels_crc(labels):
        return None  # pixels changed by a tool that kept the chunk, or a chunk from elsewhere
    n = labels.size
    inflate = zlib.decompressobj()
    try:
        bits = inflate.decompress(data[4:], (n + 7) // 8 + 1)  # bounded: a crafted chunk cannot inflate to GBs
    except zlib.error:
        return None
    if len(bits) != (n + 7) // 8 or not inflate.eof:
        return None
    return np.unpackbits(np.frombuffer(bits, np.uint8), count=n).astype(bool).reshape(labels.shape)


def _json(data: bytes) -> object:
    """Parsed JSON, or None for anything we did not write: too large, not UTF-8, malformed, nested too deep."""
    try:
        return parse_json(data, "state", MAX_STATE_BYTES)
    except ValueError:
        return None


def _class_names(value: object) -> tuple[str, ...] | None:
    """``value`` as a model's class names (1 to 255 strings, no NUL), else None."""
    if not isinstance(value, list) or not 1 <= len(value) <= VOID:
        return None
    if not all(isinstance(n, str) and "\x00" not in n for n in value):
        return None
    return tuple(value)


def _revision(state: dict) -> int:
    revision = state.get("revision")
    return revision if type(revision) is int and revision >= 0 else 0  # bool is no count


def _header_chunks(path: Path) -> dict[bytes, bytes]:
    """The private chunks before a PNG's pixels, read without decoding them; {} if unreadable."""
    try:
        with open_regular(path, MAX_FILE_BYTES, "label PNG") as f, Image.open(f) as im:
            return {c[0]: c[1] for c in getattr(im, "private_chunks", [])}
    except Exception:  # noqa: BLE001 - a missing or foreign file simply has no chunks of ours
        return {}


@dataclass(frozen=True)
class SavedLabels:
    """An image's saved labels as :meth:`Workspace.load_labels` hands them over."""

    labels: np.ndarray  # indices into the classes asked for (mapped by name when they were saved with others)
    verified: np.ndarray
    classes_saved: tuple[str, ...] | None  # the class names they were saved with; None for files without them
    mapped: bool  # True when pixel values were renumbered from ``classes_saved``
    revision: int  # the label document's revision when saved (0 if unknown), so an editor can count on


@dataclass(frozen=True)
class Workspace:
    """A folder of ``<image name>.label.png``, ``.verified.png`` and ``.state.json`` files."""

    root: Path

    @classmethod
    def beside(cls, image_folder: str | Path) -> "Workspace":
        return cls(Path(image_folder) / WORKSPACE_DIR)

    def label_path(self, image: Path) -> Path:
        return self.root / f"{Path(image).name}.label.png"

    def verified_path(self, image: Path) -> Path:
        return self.root / f"{Path(image).name}.verified.png"

    def state_path(self, image: Path) -> Path:
        return self.root / f"{Path(image).name}.state.json"

    def has(self, image: Path) -> bool:
        return self.label_path(image).exists()

    def images(self) -> list[str]:
        """Names of the images that have saved labels."""
        if not self.root.exists():
            return []
        return sorted(p.name[: -len(".label.png")] for p in self.root.glob("*.label.png"))

    def save(self, image: Path, doc: LabelDocument, palette: np.ndarray, classes: tuple[str, ...]) -> None:
        """Write labels with their verified mask in one atomic file, then the readable mask and state copies."""
        self.root.mkdir(parents=True, exist_ok=True)
        png = encode_label_png(doc.labels, palette, {VERIFIED_CHUNK: pack_verified(doc.verified, doc.labels),
                                                     CLASSES_CHUNK: json.dumps(list(classes)).encode()})
        atomic_write_bytes(self.label_path(image), png)
        write_mask_png(self.verified_path(image), doc.verified)
        state = {"image": Path(image).name, "source": str(Path(image).resolve()), "size": list(doc.shape),
                 "classes": list(classes),
                 "verified_pixels": int(doc.verified.sum()), "revision": doc.revision,
                 "saved": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        atomic_write_bytes(self.state_path(image), json.dumps(state, indent=1).encode())

    def remove(self, image: Path) -> None:
        """Forget ``image``'s saved labels (a person took back every stroke): the label PNG first, so that
        from then on the image has no correction, then its mask and state copies. Missing files are fine."""
        for path in (self.label_path(image), self.verified_path(image), self.state_path(image)):
            path.unlink(missing_ok=True)

    def _state(self, image: Path) -> dict | None:
        """The image's state.json, or None when missing, unreadable or crafted (bounded read, never raises)."""
        try:
            data = read_regular(self.state_path(image), MAX_STATE_BYTES, "state file")
        except (OSError, NotARegularFile):
            return None
        state = _json(data)
        return state if isinstance(state, dict) else None

    def saved_classes(self, image: Path) -> tuple[str, ...] | None:
        """The class names the saved labels of ``image`` index: those committed with the label PNG, else those in
        its state.json (older saves); None when neither holds a list of class names."""
        chunk = _header_chunks(self.label_path(image)).get(CLASSES_CHUNK)
        if chunk is not None:
            names = _class_names(_json(chunk))
            if names is not None:
                return names
        return _class_names((self._state(image) or {}).get("classes"))

    def verified_share(self, image: Path) -> float | None:
        """The share of ``image``'s saved labels a person verified, from its state.json (None: no saved labels;
        0.0 when the labels exist but their state is missing or unreadable)."""
        if not self.has(image):
            return None
        state = self._state(image) or {}
        size, count = state.get("size"), state.get("verified_pixels")
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)
                and isinstance(count, int) and count >= 0):
            return 0.0
        return min(1.0, count / (size[0] * size[1]))

    def saved_revision(self, image: Path) -> int:
        """The revision state.json records for ``image`` (0 when missing or not a count)."""
        return _revision(self._state(image) or {})

    def other_source(self, image: Path) -> Path | None:
        """The other image file whose labels this workspace holds under ``image``'s name, if it still exists
        (a workspace outside the image folder can be handed two folders' ``001.png``); None otherwise."""
        source = (self._state(image) or {}).get("source")
        if not isinstance(source, str) or "\x00" in source:
            return None
        other = Path(source)
        try:
            return None if other.samefile(image) or not other.is_file() else other
        except OSError:
            return other if other.is_file() else None

    def load(self, image: Path, shape: tuple[int, int],
             classes: int | tuple[str, ...]) -> tuple[np.ndarray, np.ndarray] | None:
        """Saved (labels, verified) for an image, or None; see :meth:`load_labels` (``classes`` may be a count)."""
        saved = self.load_labels(image, shape, classes)
        return None if saved is None else (saved.labels, saved.verified)

    def load_labels(self, image: Path, shape: tuple[int, int], classes: int | tuple[str, ...]) -> SavedLabels | None:
        """An image's saved labels, checked against its size and, as indices, against ``classes``; None if none.

        Given class names, labels saved with other names are renumbered by name (:class:`ClassMismatch`, a
        ValueError, when a class they use has no namesake); labels saved without names, or a bare class count,
        are only checked against the count (:class:`ImageReadError` for values beyond it).
        The first load from a workspace also removes the temporary files that saves killed mid-write left there.
        """
        if self.root not in _swept:
            remove_stale_temps(self.root)
            _swept.add(self.root)
        if not self.has(image):
            return None
        name = Path(image).name
        labels, chunks = read_label_png_chunks(self.label_path(image))
        if labels.shape != tuple(shape):
            raise ImageReadError(f"the saved label of {name} is {labels.shape[1]}×{labels.shape[0]}, "
                                 f"the image is {shape[1]}×{shape[0]}")
        verified = self._verified(image, labels, chunks)  # before any renumbering: its CRC is of the saved pixels
        state = self._state(image) or {}
        saved = _class_names(_json(chunks[CLASSES_CHUNK])) if CLASSES_CHUNK in chunks else None
        if saved is None:  # a save from before the chunk: state.json's copy is all there is
            saved = _class_names(state.get("classes"))
        n_class = classes if isinstance(classes, int) else len(classes)
        mapped = False
        if isinstance(classes, int) or saved is None:
            self._check_values(name, labels, n_class, "this model's")
        else:
            self._check_values(name, labels, len(saved), "the saved")
            moved = map_labels(labels, saved, tuple(classes), what=f"the saved labels of {name}")
            mapped, labels = moved is not labels, moved
        return SavedLabels(labels, verified, saved, mapped, _revision(state))

    @staticmethod
    def _check_values(name: str, labels: np.ndarray, n_class: int, whose: str) -> None:
        bad = (labels >= n_class) & (labels != VOID)
        if bad.any():
            raise ImageReadError(f"the saved label of {name} has class values up to {int(labels[bad].max())}, "
                                 f"beyond {whose} {n_class} classes")

    def _verified(self, image: Path, labels: np.ndarray, chunks: dict[bytes, bytes]) -> np.ndarray:
        verified = unpack_verified(chunks[VERIFIED_CHUNK], labels) if VERIFIED_CHUNK in chunks else None
        if verified is not None:
            return verified
        verified = np.zeros(labels.shape, bool)  # a label from before the chunk, or one another tool rewrote
        if self.verified_path(image).exists():
            v = read_label_png(self.verified_path(image))
            if v.shape == labels.shape:
                verified = v > 0
        return verified
