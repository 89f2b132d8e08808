"""A bundle's forward pass in the engine's faster, equivalent form (same weights, same results).

The transposed convolutions run as 2×2 convolutions + pixel shuffle and, on the CPU, fc6 and the
widest 3×3 convolutions as Winograd convolutions with oneDNN's matrix products where the grid is large
enough (:mod:`fcn_core.inference.winograd`), fc6 otherwise as unfold + prepacked matrix product, and
the other wide 3×3 convolutions as NNPACK's Winograd convolutions (:mod:`fcn_core.inference.fast_ops`).
The kernels are derived once from the bundle's weights: build a new :class:`FastForward` after
changing them.
"""

from __future__ import annotations

import functools
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from ..model.architecture import BackboneFeatures, Upsampler
from ..model.bundle import FCNBundle
from .fast_ops import WINOGRAD_MIN_POSITIONS, PackedConv, PackedMatrix, fc6_forward, phase_kernel, upsample, winograd_conv, winograd_suits
from .padding_skip import PaddingSkip
from .winograd import WinogradConv


class FastForward:
    """Backbone features and head upsamplers of ``bundle`` in their fast form."""

    def __init__(self, bundle: FCNBundle) -> None:
        self.bundle = bundle
        self._kernels: dict[str, dict[str, tuple[torch.Tensor, int]]] = {}
        with torch.no_grad():
            for variant, head in bundle.heads.items():
                self._kernels[variant] = {
                    name: (phase_kernel(m.weight.detach(), m.stride[0]), m.stride[0])
                    for name, m in head.named_children()
                    if isinstance(m, nn.ConvTranspose2d) and m.kernel_size[0] == 2 * m.stride[0]
                }
        self._convs = {name: self._conv_plan(bb) for name, bb in bundle.backbones.items()}
        self._unpadded = {name: self._unpadded_plan(bb) for name, bb in bundle.backbones.items()}
        # measured: on the CPU the skip saves a sixth of the work at 500×500 (more on small images); on an
        # H200 its gathers cost more than the convolutions it saves (docs/speed.md), so there it is off
        self._skips = {name: PaddingSkip(bb) for name, bb in bundle.backbones.items()
                       if bb.fc6.weight.device.type == "cpu"}

    @staticmethod
    def _conv_plan(bb: nn.Module) -> Callable[[str, torch.Tensor], torch.Tensor]:
        """``conv(name, h)`` for one backbone, ReLU included: each layer in its fastest equivalent form on
        its device. (cuDNN's fused convolution + bias + ReLU was tried on an H200: the backbone took 4.6 ms
        instead of 1.5, its kernels are not the tensor-core ones; docs/speed.md.)"""
        on_cpu = bb.fc6.weight.device.type == "cpu"
        names = [name for block in bb.block_layers for name in block] + ["fc6", "fc7"]
        # each derived weight set is built on the first input that uses it (fc6's two forms are 400 and
        # 540 MB at full width; a user of small images never needs the Winograd one)
        matrices = {name: functools.cache(functools.partial(PackedMatrix, getattr(bb, name)))
                    for name in ("fc6", "fc7")} if on_cpu else {}
        fast_winograd = {name: WinogradConv(getattr(bb, name)) for name in names
                         if on_cpu and WinogradConv.suits(getattr(bb, name))}
        winograd = {name for name in names if on_cpu and winograd_suits(getattr(bb, name))}
        packed = {name: PackedConv(getattr(bb, name)) for names in bb.block_layers for name in names
                  if on_cpu and PackedConv.suits(getattr(bb, name))}

        def conv(name: str, h: torch.Tensor) -> torch.Tensor:
            layer = getattr(bb, name)
            fast = fast_winograd.get(name)
            # not under torch.compile: the weights are built on first use, a side effect it cannot trace
            if fast is not None and not torch.compiler.is_compiling() and fast.ready_for(h.shape[-2], h.shape[-1]):
                return fast.relu(h)
            if name in winograd and h.shape[-2] * h.shape[-1] >= WINOGRAD_MIN_POSITIONS:
                return F.relu(winograd_conv(h, layer), inplace=True)
            if name in matrices:
                return F.relu(fc6_forward(h, layer, matrices[name]()), inplace=True)
            if name in packed:
                return packed[name].relu(h)
            return F.relu(layer(h), inplace=True)

        return conv

    @staticmethod
    def _unpadded_plan(bb: nn.Module) -> Callable[[str, torch.Tensor], torch.Tensor]:
        """``conv(name, h)`` with ReLU for an input that already carries the layer's zero padding (the
        padding skip's compact input of conv1_1): prepacked for oneDNN on the CPU."""
        @functools.cache
        def packed(name: str) -> PackedConv | None:
            layer = getattr(bb, name)
            return PackedConv(layer, padding=(0, 0)) if PackedConv.suits(layer) else None

        def conv(name: str, h: torch.Tensor) -> torch.Tensor:
            fast = packed(name)
            if fast is not None:
                return fast.relu(h)
            layer = getattr(bb, name)
            return F.relu(F.conv2d(h, layer.weight, layer.bias), inplace=True)

        return conv

    def features(self, backbone: str, x: torch.Tensor) -> BackboneFeatures:
        """pool3, pool4 and conv7 of the named backbone on a normalised N×3×H×W batch."""
        skip = self._skips.get(backbone)
        if skip is None or torch.compiler.is_compiling():  # the skip's plans are numpy, made per size:
            # the compiler gets the plain layers
            return self.bundle.backbones[backbone](x, conv=self._convs[backbone], conv_applies_relu=True)
        return skip.features(x, conv=self._convs[backbone], conv_applies_relu=True, unpadded=self._unpadded[backbone])

    def upsampler(self, variant: str) -> Upsampler:
        """The ``up`` argument of :meth:`FCNHead.fusion` for ``variant``."""
        kernels = self._kernels[variant]
        head = self.bundle.heads[variant]

        def up(name: str, t: torch.Tensor) -> torch.Tensor:
            if name not in kernels:  # a kernel that is not twice its stride: the plain layer
                return getattr(head, name)(t)
            kernel, stride = kernels[name]
            return upsample(t, kernel, stride)

        return up
