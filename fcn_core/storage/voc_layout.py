"""The VOC folder layout: JPEGImages/, SegmentationClass/ (palette PNGs), ImageSets/Segmentation/, classes.json.

Plain paths and files (no torch), so that writing an export does not load torchvision.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .atomic import atomic_write_bytes
from .json_input import parse_json
from .regular_files import read_regular

CLASSES_FILE = "classes.json"
MAX_SPLIT_BYTES = 64 << 20  # a split file of 64 MB lists millions of ids
MAX_CLASSES_BYTES = 1 << 20


@dataclass(frozen=True)
class VOCLayout:
    """Paths inside a VOC-layout folder."""

    root: Path

    @property
    def images(self) -> Path:
        return self.root / "JPEGImages"

    @property
    def labels(self) -> Path:
        return self.root / "SegmentationClass"

    @property
    def splits(self) -> Path:
        return self.root / "ImageSets" / "Segmentation"

    def split_ids(self, split: str) -> list[str]:
        path = self.splits / f"{split}.txt"
        if not path.exists():
            have = sorted(p.stem for p in self.splits.glob("*.txt")) if self.splits.exists() else []
            raise ValueError(f"{self.root} has no split {split!r} (it has: {', '.join(have) or 'none'})")
        data = read_regular(path, MAX_SPLIT_BYTES, "split file")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not a text file of image ids (not UTF-8)") from None
        return [line.strip() for line in text.splitlines() if line.strip()]

    def make_dirs(self) -> None:
        for d in (self.images, self.labels, self.splits):
            d.mkdir(parents=True, exist_ok=True)

    def write_split(self, split: str, ids: list[str]) -> None:
        atomic_write_bytes(self.splits / f"{split}.txt", "".join(f"{i}\n" for i in ids).encode())

    def write_classes(self, names, colors) -> None:
        data = {"classes": list(names), "colors": [list(map(int, c)) for c in colors]}
        atomic_write_bytes(self.root / CLASSES_FILE, json.dumps(data, indent=1).encode())

    def read_classes(self) -> tuple[tuple[str, ...], tuple[tuple[int, int, int], ...]] | None:
        path = self.root / CLASSES_FILE
        if not path.exists():
            return None
        data = parse_json(read_regular(path, MAX_CLASSES_BYTES, "classes file"), str(path))
        try:
            names, colors = data["classes"], data["colors"]
            ok = (isinstance(names, list) and isinstance(colors, list) and len(names) == len(colors)
                  and all(isinstance(n, str) for n in names)
                  and all(isinstance(c, list) and len(c) == 3 and all(type(x) is int and 0 <= x <= 255 for x in c)
                          for c in colors))
        except (TypeError, KeyError):
            ok = False
        if not ok:
            raise ValueError(f"{path} does not hold class names with one 0–255 RGB colour each")
        return tuple(names), tuple(tuple(c) for c in colors)
