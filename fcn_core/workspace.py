"""The workspace: each image's corrected labels, verified mask and state, saved atomically beside the images."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from .atomic import atomic_write_bytes, atomic_write_via
from .image_io import ImageReadError, encode_label_png, read_label_png
from .label_document import LabelDocument

WORKSPACE_DIR = "fcn_workbench_labels"


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
        """Write labels, verified mask and state, each atomically (old or new file, never half of one)."""
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.label_path(image), encode_label_png(doc.labels, palette))
        verified = Image.fromarray((doc.verified * 255).astype(np.uint8), mode="L")
        atomic_write_via(self.verified_path(image), lambda tmp: verified.save(tmp, format="PNG"))
        state = {"image": Path(image).name, "size": list(doc.shape), "classes": list(classes),
                 "verified_pixels": int(doc.verified.sum()), "revision": doc.revision,
                 "saved": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        atomic_write_bytes(self.state_path(image), json.dumps(state, indent=1).encode())

    def load(self, image: Path, shape: tuple[int, int], n_class: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Saved (labels, verified) for an image, checked against its size and the class count; None if none."""
        if not self.has(image):
            return None
        labels = read_label_png(self.label_path(image))
        if labels.shape != tuple(shape):
            raise ImageReadError(f"the saved label of {Path(image).name} is {labels.shape[1]}×{labels.shape[0]}, "
                                 f"the image is {shape[1]}×{shape[0]}")
        bad = (labels >= n_class) & (labels != 255)
        if bad.any():
            raise ImageReadError(f"the saved label of {Path(image).name} has class values up to {int(labels[bad].max())}, "
                                 f"beyond this model's {n_class} classes")
        verified = np.zeros(shape, bool)
        if self.verified_path(image).exists():
            v = read_label_png(self.verified_path(image))
            if v.shape == labels.shape:
                verified = v > 0
        return labels, verified
