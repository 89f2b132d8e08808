"""VOC-layout datasets: JPEGImages/, SegmentationClass/ (palette PNGs), ImageSets/Segmentation/."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from .atomic import atomic_write_bytes
from .image_io import read_image, read_label_png
from .palette import VOID

CLASSES_FILE = "classes.json"


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
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]

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
        data = json.loads(path.read_text())
        return tuple(data["classes"]), tuple(tuple(int(x) for x in c) for c in data["colors"])


def train_transforms(crop: int) -> v2.Compose:
    """Joint image/mask augmentation: scale jitter, crop (void-padded), flip."""
    return v2.Compose([
        v2.RandomResize(int(crop * 0.8), int(crop * 1.25)),
        v2.RandomCrop(crop, pad_if_needed=True, fill={tv_tensors.Image: 0, tv_tensors.Mask: VOID}),
        v2.RandomHorizontalFlip(),
    ])


class VOCSegmentationFolder(torch.utils.data.Dataset):
    """Items (image uint8 3×H×W tensor, label int64 H×W tensor) of one split."""

    def __init__(self, root: str | Path, split: str = "train", transforms: v2.Transform | None = None) -> None:
        self.layout = VOCLayout(Path(root))
        self.ids = self.layout.split_ids(split)
        self.transforms = transforms

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The raw (RGB image, label map) of item ``index``."""
        item = self.ids[index]
        image = read_image(self.layout.images / f"{item}.jpg")
        labels = read_label_png(self.layout.labels / f"{item}.png")
        if labels.shape != image.shape[:2]:
            raise ValueError(f"{item}: label {labels.shape} and image {image.shape[:2]} differ in size")
        return image, labels

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, labels = self.load(index)
        img = tv_tensors.Image(torch.from_numpy(image).permute(2, 0, 1))
        mask = tv_tensors.Mask(torch.from_numpy(labels.astype(np.int64)))
        if self.transforms is not None:
            img, mask = self.transforms(img, mask)
        return img.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor)
