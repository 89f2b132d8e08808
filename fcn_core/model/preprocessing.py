"""How a checkpoint wants its input: channel order, value range, mean and std (plain data, no torch)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

VOC_MEAN_BGR = (104.00698793, 116.66876762, 122.67891434)
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """Maps an RGB uint8 image to the network's input (:mod:`fcn_core.model.normalize` applies it).

    ``mean`` and ``std`` are given in ``channel_order`` and in the units of ``value_range``
    (255: pixel values 0–255; 1: values scaled to 0–1).
    """

    channel_order: str = "BGR"
    value_range: float = 255.0
    mean: tuple[float, float, float] = VOC_MEAN_BGR
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        if self.channel_order not in ("RGB", "BGR"):
            raise ValueError(f"channel order must be RGB or BGR, not {self.channel_order!r}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError("mean and std need three values each, std positive")
        if not all(math.isfinite(v) for v in (self.value_range, *self.mean, *self.std)) or self.value_range <= 0:
            raise ValueError("the value range, mean and std must be finite numbers (the range positive)")

    @classmethod
    def voc(cls) -> "Preprocessing":
        """The authors' VOC nets: BGR, 0–255, mean subtracted, no std."""
        return cls()

    @classmethod
    def imagenet(cls) -> "Preprocessing":
        """torchvision's ImageNet models: RGB, 0–1, ImageNet mean and std."""
        return cls("RGB", 1.0, IMAGENET_MEAN_RGB, IMAGENET_STD_RGB)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Preprocessing":
        def numbers(key: str) -> tuple[float, ...]:
            values = d[key]
            if not isinstance(values, list) or not all(type(v) in (int, float) for v in values):
                raise ValueError(f"preprocessing {key} must be a list of numbers")
            return tuple(float(v) for v in values)

        order, value_range = d["channel_order"], d["value_range"]
        if not isinstance(order, str) or type(value_range) not in (int, float):
            raise ValueError("preprocessing needs a channel order (text) and a value range (a number)")
        return cls(order, float(value_range), numbers("mean"), numbers("std"))  # type: ignore[arg-type]

    def describe(self) -> str:
        return (f"{self.channel_order}, 0–{self.value_range:g}, mean "
                f"({', '.join(f'{m:.4g}' for m in self.mean)}), std ({', '.join(f'{s:.4g}' for s in self.std)})")
