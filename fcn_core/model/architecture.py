"""The paper's VGG16 FCN, layer for layer as the public checkpoints define it.

The backbone (conv1_1 … fc7, "conv7") is separate from the heads (score layers and transposed
convolutions) so that several heads can share one backbone pass. Layer names follow the authors'
Caffe nets and the torchfcn port, so their state dicts load without renaming.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .metadata import VARIANTS

# VGG16 convolution blocks: (layer names, output channels at width 1).
_BLOCKS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("conv1_1", "conv1_2"), 64),
    (("conv2_1", "conv2_2"), 128),
    (("conv3_1", "conv3_2", "conv3_3"), 256),
    (("conv4_1", "conv4_2", "conv4_3"), 512),
    (("conv5_1", "conv5_2", "conv5_3"), 512),
)
FC_CHANNELS = 4096

# Crop offsets of the public nets (FCN_FACTS.md).
CROP_32S = 19
CROP_16S = 27
CROP_8S = 31
CROP_POOL4 = 5
CROP_POOL3 = 9

# Where the centre of cell 0 of a score map at each stride lies in input pixel coordinates
# (the geometry of the padded backbone, the transposed convolutions and the crops above):
# stride 32: 32*i + 12.5, stride 16: 16*i - 11.5, stride 8: 8*i - 23.5.
GRID_ORIGIN: dict[int, float] = {32: 12.5, 16: -11.5, 8: -23.5}


def channels_at_width(width: float) -> tuple[list[int], int]:
    """The five block widths and the fc6/fc7 width of a VGG16 FCN at a width multiplier."""
    if not 0 < width <= 1:
        raise ValueError(f"width must be in (0, 1], got {width}")
    blocks = [max(1, int(round(c * width))) for _, c in _BLOCKS]
    return blocks, max(1, int(round(FC_CHANNELS * width)))


def bilinear_filter(kernel_size: int) -> torch.Tensor:
    """The kernel_size×kernel_size bilinear interpolation filter of Caffe's FCN surgery."""
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = np.ogrid[:kernel_size, :kernel_size]
    return torch.from_numpy((1 - abs(og[0] - center) / factor) * (1 - abs(og[1] - center) / factor)).float()


def bilinear_kernel(channels: int, kernel_size: int) -> torch.Tensor:
    """Weights of a transposed convolution that performs bilinear upsampling (diagonal in→out)."""
    weight = torch.zeros((channels, channels, kernel_size, kernel_size))
    weight[range(channels), range(channels)] = bilinear_filter(kernel_size)
    return weight


def crop_like(x: torch.Tensor, offset: int, height: int, width: int) -> torch.Tensor:
    """Caffe's Crop layer: a height×width window of x starting at (offset, offset)."""
    return x[:, :, offset : offset + height, offset : offset + width]


@dataclass(frozen=True)
class BackboneFeatures:
    """What the heads need from one backbone pass: pool3, pool4 and conv7 (fc7) activations."""

    pool3: torch.Tensor
    pool4: torch.Tensor
    conv7: torch.Tensor
    input_size: tuple[int, int]


class VGG16Backbone(nn.Module):
    """conv1_1 … fc7 of the FCN (conv1_1 padding 100, ceil-mode pools, fc6/fc7 as convolutions)."""

    def __init__(self, width: float = 1.0, conv1_padding: int = 100) -> None:
        super().__init__()
        self.width = width
        blocks, fc = channels_at_width(width)
        in_ch = 3
        self.block_layers: list[list[str]] = []
        for (names, _), out_ch in zip(_BLOCKS, blocks):
            for name in names:
                pad = conv1_padding if name == "conv1_1" else 1
                setattr(self, name, nn.Conv2d(in_ch, out_ch, 3, padding=pad))
                in_ch = out_ch
            self.block_layers.append(list(names))
        self.fc6 = nn.Conv2d(in_ch, fc, 7)
        self.fc7 = nn.Conv2d(fc, fc, 1)
        self.drop6 = nn.Dropout2d()
        self.drop7 = nn.Dropout2d()
        for m in self.modules():  # He initialisation: keeps a plain 15-layer ReLU stack trainable from scratch
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        self.pool3_channels = blocks[2]
        self.pool4_channels = blocks[3]
        self.conv7_channels = fc

    def forward(self, x: torch.Tensor, conv: Callable[[str, torch.Tensor], torch.Tensor] | None = None,
                conv_applies_relu: bool = False) -> BackboneFeatures:
        """pool3, pool4 and conv7 of ``x``; ``conv(name, h)`` may compute a named convolution another way
        (with ``conv_applies_relu``, followed by its ReLU, as one fused kernel can)."""
        plain = conv or (lambda name, t: getattr(self, name)(t))
        run = plain if conv_applies_relu else (lambda name, t: F.relu(plain(name, t), inplace=True))
        size = (x.shape[-2], x.shape[-1])  # ints, kept symbolic when traced for ONNX (dynamic crops)
        pools = []
        h = x
        for names in self.block_layers:
            for name in names:
                h = run(name, h)
            h = F.max_pool2d(h, 2, stride=2, ceil_mode=True)
            pools.append(h)
        h = self.drop6(run("fc6", h))
        h = self.drop7(run("fc7", h))
        return BackboneFeatures(pool3=pools[2], pool4=pools[3], conv7=h, input_size=size)


def _upsampler(n_class: int, kernel: int, stride: int) -> nn.ConvTranspose2d:
    layer = nn.ConvTranspose2d(n_class, n_class, kernel, stride=stride, bias=False)
    with torch.no_grad():  # in place: a 255-class upscore8 is 1 GB, a second copy of it is not needed
        layer.weight.zero_()
        layer.weight[range(n_class), range(n_class)] = bilinear_filter(kernel)
    return layer


# An upsampling: (transposed-conv layer name, scores[, crop]) → upsampled scores; with ``crop`` =
# (offset, height, width) only that window of them (``crop_like``), which a faster form may compute alone.
Crop = tuple[int, int, int]
Upsampler = Callable[..., torch.Tensor]


class FCNHead(nn.Module):
    """Score layers and upsampling of FCN-32s, FCN-16s or FCN-8s (optionally "at-once").

    ``forward`` returns the final class scores, cropped to the input's size. ``fusion`` also returns
    the skip-fusion intermediates at their native strides. Both take an optional ``up`` that computes
    the named transposed convolution another way (the engine's faster equivalent form).
    """

    def __init__(self, variant: str, n_class: int, backbone: VGG16Backbone, at_once: bool = False) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
        if at_once and variant != "8s":
            raise ValueError("only FCN-8s has an at-once form")
        self.variant = variant
        self.n_class = n_class
        self.at_once = at_once
        self.score_fr = nn.Conv2d(backbone.conv7_channels, n_class, 1)
        if variant == "32s":
            self.upscore = _upsampler(n_class, 64, 32)
            return
        self.score_pool4 = nn.Conv2d(backbone.pool4_channels, n_class, 1)
        self.upscore2 = _upsampler(n_class, 4, 2)
        if variant == "16s":
            self.upscore16 = _upsampler(n_class, 32, 16)
            return
        self.score_pool3 = nn.Conv2d(backbone.pool3_channels, n_class, 1)
        self.upscore_pool4 = _upsampler(n_class, 4, 2)
        self.upscore8 = _upsampler(n_class, 16, 8)

    def zero_skip_scores(self, conv7_too: bool = False) -> None:
        """Zero the skip score layers (and score_fr with ``conv7_too``): new score layers start at zero, as
        in the paper, so a staged net starts exactly where its parent ended."""
        with torch.no_grad():
            for name in ("score_fr",) * conv7_too + ("score_pool4", "score_pool3"):
                layer = getattr(self, name, None)
                if layer is not None:
                    layer.weight.zero_()
                    layer.bias.zero_()

    def forward(self, f: BackboneFeatures, up: Upsampler | None = None) -> torch.Tensor:
        return self.fusion(f, up)["final"]

    def upsample(self, name: str, t: torch.Tensor, crop: Crop | None = None) -> torch.Tensor:
        """The named transposed convolution as the module computes it (the default ``up``)."""
        scores = getattr(self, name)(t)
        return scores if crop is None else crop_like(scores, *crop)

    def _up(self, up: Upsampler | None) -> Upsampler:
        return up or self.upsample

    def fusion(self, f: BackboneFeatures, up: Upsampler | None = None) -> dict[str, torch.Tensor]:
        """Every named step of the skip architecture, ending with ``final`` (input-sized scores)."""
        up = self._up(up)
        h, w = f.input_size
        out: dict[str, torch.Tensor] = {"score_fr": self.score_fr(f.conv7)}
        if self.variant == "32s":
            out["final"] = up("upscore", out["score_fr"], (CROP_32S, h, w))
            return out
        up2 = up("upscore2", out["score_fr"])
        pool4 = f.pool4 * 0.01 if self.at_once else f.pool4
        sp4 = crop_like(self.score_pool4(pool4), CROP_POOL4, up2.shape[2], up2.shape[3])
        out.update(upscore2=up2, score_pool4c=sp4, fuse_pool4=up2 + sp4)
        if self.variant == "16s":
            out["final"] = up("upscore16", out["fuse_pool4"], (CROP_16S, h, w))
            return out
        up4 = up("upscore_pool4", out["fuse_pool4"])
        pool3 = f.pool3 * 0.0001 if self.at_once else f.pool3
        sp3 = crop_like(self.score_pool3(pool3), CROP_POOL3, up4.shape[2], up4.shape[3])
        out.update(upscore_pool4=up4, score_pool3c=sp3, fuse_pool3=up4 + sp3)
        out["final"] = up("upscore8", out["fuse_pool3"], (CROP_8S, h, w))
        return out

    def contributions(self, f: BackboneFeatures, up: Upsampler | None = None) -> dict[str, torch.Tensor]:
        """The final scores split by source: what conv7, pool4 and pool3 each add.

        The upsamplings are linear and bias-free, so pushing each source alone through the rest of
        the net gives terms that sum to the final scores.
        """
        up = self._up(up)
        h, w = f.input_size
        steps = self.fusion(f, up)
        if self.variant == "32s":
            return {"conv7": steps["final"]}
        if self.variant == "16s":
            up16 = lambda t: up("upscore16", t, (CROP_16S, h, w))  # noqa: E731
            return {"conv7": up16(steps["upscore2"]), "pool4": up16(steps["score_pool4c"])}
        up8 = lambda t: up("upscore8", t, (CROP_8S, h, w))  # noqa: E731
        return {
            "conv7": up8(up("upscore_pool4", steps["upscore2"])),
            "pool4": up8(up("upscore_pool4", steps["score_pool4c"])),
            "pool3": up8(steps["score_pool3c"]),
        }


# Native stride of every fusion step, for placing it over the image.
STEP_STRIDE: dict[str, int] = {
    "score_fr": 32,
    "upscore2": 16,
    "score_pool4c": 16,
    "fuse_pool4": 16,
    "upscore_pool4": 8,
    "score_pool3c": 8,
    "fuse_pool3": 8,
    "final": 1,
}
