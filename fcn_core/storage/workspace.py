"""The workspace: each image's corrected labels, verified mask and state, saved atomically beside the images.

The label PNG is the unit a save commits: it carries the verified mask in a private chunk, so one rename
replaces labels and mask together and a kill between files can never pair a new label with an old mask.
The ``.verified.png`` and ``.state.json`` beside it are readable copies written after it.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..labels.document import LabelDocument
from ..model.palette import VOID
from .atomic import atomic_write_bytes, remove_stale_temps
from .image_io import ImageReadError, encode_label_png, read_label_png, read_label_png_chunks, write_mask_png

WORKSPACE_DIR = "fcn_workbench_labels"
# ancillary, private, not safe to copy: a tool that edits the pixels drops it rather than keep a stale mask
VERIFIED_CHUNK = b"vrFY"


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
        png = encode_label_png(doc.labels, palette, {VERIFIED_CHUNK: pack_verified(doc.verified, doc.labels)})
        atomic_write_bytes(self.label_path(image), png)
        write_mask_png(self.verified_path(image), doc.verified)
        state = {"image": Path(image).name, "source": str(Path(image).resolve()), "size": list(doc.shape),
                 "classes": list(classes),
                 "verified_pixels": int(doc.verified.sum()), "revision": doc.revision,
                 "saved": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        atomic_write_bytes(self.state_path(image), json.dumps(state, indent=1).encode())

    def other_source(self, image: Path) -> Path | None:
        """The other image file whose labels this workspace holds under ``image``'s name, if it still exists
        (a workspace outside the image folder can be handed two folders' ``001.png``); None otherwise."""
        try:
            source = json.loads(self.state_path(image).read_text()).get("source")
        except (OSError, ValueError, AttributeError):
            return None
        if not isinstance(source, str):
            return None
        other = Path(source)
        try:
            return None if other.samefile(image) or not other.is_file() else other
        except OSError:
            return other if other.is_file() else None

    def load(self, image: Path, shape: tuple[int, int], n_class: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Saved (labels, verified) for an image, checked against its size and the class count; None if none.

        The first load from a workspace also removes the temporary files that saves killed mid-write left there.
        """
        if self.root not in _swept:
            remove_stale_temps(self.root)
            _swept.add(self.root)
        if not self.has(image):
            return None
        labels, chunks = read_label_png_chunks(self.label_path(image))
        if labels.shape != tuple(shape):
            raise ImageReadError(f"the saved label of {Path(image).name} is {labels.shape[1]}×{labels.shape[0]}, "
                                 f"the image is {shape[1]}×{shape[0]}")
        bad = (labels >= n_class) & (labels != VOID)
        if bad.any():
            raise ImageReadError(f"the saved label of {Path(image).name} has class values up to {int(labels[bad].max())}, "
                                 f"beyond this model's {n_class} classes")
        verified = unpack_verified(chunks[VERIFIED_CHUNK], labels) if VERIFIED_CHUNK in chunks else None
        if verified is not None:
            return labels, verified
        verified = np.zeros(shape, bool)  # a label from before the chunk, or one another tool rewrote
        if self.verified_path(image).exists():
            v = read_label_png(self.verified_path(image))
            if v.shape == labels.shape:
                verified = v > 0
        return labels, verified
