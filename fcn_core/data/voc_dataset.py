"""VOC-layout datasets as torch datasets (the folder layout itself is in :mod:`fcn_core.storage.voc_layout`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

from ..model.palette import VOID
from ..storage.image_io import read_image, read_label_png
from ..storage.staging import remove_stale_stages
from ..storage.voc_layout import VOCLayout
from .tiles import tile


def train_transforms(crop: int, scale_jitter: bool = True) -> v2.Compose:
    """Joint image/mask augmentation: scale jitter (0.8–1.25 of ``crop``, optional), crop (void-padded), flip.

    Without scale jitter images keep their pixel scale, so thin labels keep their exact edges (a
    nearest-neighbour resize of a mask moves them by up to a pixel against the bilinear image).
    """
    steps: list[v2.Transform] = [v2.RandomResize(int(crop * 0.8), int(crop * 1.25))] if scale_jitter else []
    return v2.Compose([
        *steps,
        v2.RandomCrop(crop, pad_if_needed=True, fill={tv_tensors.Image: 0, tv_tensors.Mask: VOID}),
        v2.RandomHorizontalFlip(),
    ])


class VOCSegmentationFolder(torch.utils.data.Dataset):
    """Items (image uint8 3×H×W tensor, label int64 H×W tensor) of one split."""

    def __init__(self, root: str | Path, split: str = "train", transforms: v2.Transform | None = None) -> None:
        self.layout = VOCLayout(Path(root))
        remove_stale_stages(self.layout.root)  # an export killed mid-swap into this folder is finished first
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


class Mosaic(torch.utils.data.Dataset):
    """Items of ``base`` tiled ``tiles`` × ``tiles`` into one: item ``i`` top left, the others drawn at random.

    The FCN pads its input by 100 px (conv1_1), a larger area than a 160 px scene itself; a 2 × 2
    mosaic pays for that padding once for four scenes. ``base`` must yield equal-sized items (a fixed crop does).
    """

    def __init__(self, base: torch.utils.data.Dataset, tiles: int = 2) -> None:
        if tiles < 1:
            raise ValueError(f"a mosaic needs at least 1 tile per side, not {tiles}")
        self.base, self.tiles = base, tiles

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        others = torch.randint(len(self.base), (self.tiles * self.tiles - 1,)).tolist()
        items = [self.base[i] for i in (index, *others)]
        if len({tuple(img.shape) for img, _ in items}) > 1:
            raise ValueError("mosaic tiles differ in size: give the dataset a fixed crop")
        return tile(items, self.tiles)
