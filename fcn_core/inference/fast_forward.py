"""A bundle's forward pass in the engine's faster, equivalent form (same weights, same results).

The transposed convolutions run as 2×2 convolutions + pixel shuffle and, on the CPU, a wide fc6 and the
widest 3×3 convolutions as Winograd convolutions with oneDNN's matrix products where the grid is large
enough (:mod:`fcn_core.inference.winograd`), the other wide 3×3 convolutions as NNPACK's Winograd
convolutions (:mod:`fcn_core.inference.nnpack`; conv1_2 too where this CPU runs it faster so), and the
rest as oneDNN convolutions with prepacked weights.
The kernels are derived once from the bundle's weights: build a new :class:`FastForward` after
changing them.
"""

from __future__ import annotations

import functools
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from ..model.architecture import BackboneFeatures, Crop, Upsampler, crop_like
from ..model.bundle import FCNBundle
from .fast_ops import WINOGRAD_MIN_POSITIONS, PackedConv, diagonal_phase_kernel, phase_kernel, upsample, upsample_crop, winograd_suits
from .form_race import race
from .nnpack import NnpackConv
from .padding_skip import PaddingSkip
from .winograd import WinogradConv


def _phase_form(weight: torch.Tensor, stride: int) -> torch.Tensor:
    """A transposed convolution's phase kernel: on the CPU grouped per class where it is diagonal (on a
    GPU the dense form stays: its tensor cores run it, and the grouped one was never measured there)."""
    diagonal = diagonal_phase_kernel(weight, stride) if weight.device.type == "cpu" else None
    return diagonal if diagonal is not None else phase_kernel(weight, stride)


def _nchw_weights(bb: nn.Module) -> Callable[[str], torch.Tensor]:
    """A backbone layer's weight in NCHW, by name, made once: NNPACK reads NCHW (it copied a channels_last
    weight on every call), and a channels_last weight makes oneDNN answer channels_last."""
    @functools.cache
    def weight(name: str) -> torch.Tensor:
        return getattr(bb, name).weight.detach().contiguous()

    return weight


# conv1 grids from this many positions (images from about 240×240 pixels: the padding skip keeps about
# ten rows of padding on each side) race its two forms (form_race), and take the winner after
CONV1_RACE_MIN_POSITIONS = 256 * 256
# the race runs on at most this many rows and columns of the first image's input (a 500×500 image's
# compact conv1 grid): on a 4-megapixel image, racing the whole would add seconds and gigabytes
CONV1_RACE_SIDE = 520


class FastForward:
    """Backbone features and head upsamplers of ``bundle`` in their fast form."""

    def __init__(self, bundle: FCNBundle, conv1_nchw: bool | None = None) -> None:
        """``conv1_nchw`` fixes conv1's form on the CPU (True: NCHW with NNPACK's conv1_2, False:
        prepacked oneDNN in channels_last); None: the first large image races the two (:mod:`form_race`)."""
        self.bundle = bundle
        self._kernels: dict[str, dict[str, tuple[torch.Tensor, int]]] = {}
        with torch.no_grad():
            for variant, head in bundle.heads.items():
                self._kernels[variant] = {
                    name: (_phase_form(m.weight.detach(), m.stride[0]), m.stride[0])
                    for name, m in head.named_children()
                    if isinstance(m, nn.ConvTranspose2d) and m.kernel_size[0] == 2 * m.stride[0]
                }
        # conv1's form, per backbone, where both forms exist (a CPU backbone of full conv1 width)
        self.conv1_nchw: dict[str, bool | None] = {
            name: conv1_nchw for name, bb in bundle.backbones.items()
            if winograd_suits(getattr(bb, bb.block_layers[0][1]), narrow=True)}
        nchw_weights = {name: _nchw_weights(bb) for name, bb in bundle.backbones.items()}
        self._convs = {name: self._conv_plan(bb, nchw_weights[name]) for name, bb in bundle.backbones.items()}
        self._unpadded = {name: self._unpadded_plan(name, bb, nchw_weights[name]) for name, bb in bundle.backbones.items()}
        # measured: on the CPU the skip saves a sixth of the work at 500×500 (more on small images); on an
        # H200 its gathers cost more than the convolutions it saves (docs/speed.md), so there it is off
        self._skips = {name: PaddingSkip(bb) for name, bb in bundle.backbones.items()
                       if bb.fc6.weight.device.type == "cpu"}

    @staticmethod
    def _conv_plan(bb: nn.Module, nchw_weight: Callable[[str], torch.Tensor]) -> Callable[[str, torch.Tensor], torch.Tensor]:
        """``conv(name, h)`` for one backbone, ReLU included: each layer in its fastest equivalent form on
        its device. (cuDNN's fused convolution + bias + ReLU was tried on an H200: the backbone took 4.6 ms
        instead of 1.5, its kernels are not the tensor-core ones; docs/speed.md.)"""
        on_cpu = bb.fc6.weight.device.type == "cpu"
        names = [name for block in bb.block_layers for name in block] + ["fc6", "fc7"]
        fast_winograd = {name: WinogradConv(getattr(bb, name)) for name in names
                         if on_cpu and WinogradConv.suits(getattr(bb, name))}
        winograd = {name for name in names if on_cpu and winograd_suits(getattr(bb, name))}
        # 64→64 (conv1_2) runs NNPACK when its input is NCHW: conv1's form is chosen in _unpadded_plan
        narrow = {name for name in names if on_cpu and winograd_suits(getattr(bb, name), narrow=True)} - winograd
        # each prepacked weight set is built on the first input that uses it (fc6's is 400 MB at full
        # width, and at full width images from about 200×200 pixels never need it: they take the Winograd form)
        packed = {name: functools.cache(functools.partial(PackedConv, getattr(bb, name))) for name in names
                  if on_cpu and PackedConv.suits(getattr(bb, name))}
        # NNPACK's kernel transforms too are made on first use (C_out·C_in·64 floats a layer)
        nnpack = {name: functools.cache(lambda name=name: NnpackConv(getattr(bb, name), nchw_weight(name)))
                  for name in winograd | narrow}

        def conv(name: str, h: torch.Tensor) -> torch.Tensor:
            layer = getattr(bb, name)
            fast = fast_winograd.get(name)
            # not under torch.compile: the weights are built on first use, a side effect it cannot trace
            if fast is not None and not torch.compiler.is_compiling() and fast.ready_for(h.shape[-2], h.shape[-1]):
                return fast.relu(h)
            if (name in winograd or (name in narrow and h.is_contiguous())) and h.shape[-2] * h.shape[-1] >= WINOGRAD_MIN_POSITIONS:
                return nnpack[name]().relu(h)
            if name in packed:
                return packed[name]().relu(h)
            return F.relu(layer(h), inplace=True)

        return conv

    def _unpadded_plan(self, backbone: str, bb: nn.Module,
                       nchw_weight: Callable[[str], torch.Tensor]) -> Callable[[str, torch.Tensor], torch.Tensor]:
        """``conv(name, h)`` with ReLU for an input that already carries the layer's zero padding (the
        padding skip's compact input of conv1_1): prepacked for oneDNN on the CPU (channels_last out), or
        the plain convolution in NCHW (NCHW out) where conv1_2 runs as NNPACK's convolution, which reads
        NCHW: turning conv1_1's 64 channels from channels_last into NCHW took longer than conv1_2."""
        first, second = bb.block_layers[0][:2]

        @functools.cache
        def packed(name: str) -> PackedConv | None:
            layer = getattr(bb, name)
            return PackedConv(layer, padding=(0, 0)) if PackedConv.suits(layer) else None

        def plain(name: str, h: torch.Tensor, nchw: bool) -> torch.Tensor:
            fast = None if nchw else packed(name)
            if fast is not None:
                return fast.relu(h)
            layer = getattr(bb, name)
            weight = nchw_weight(name) if nchw else layer.weight
            return F.relu(F.conv2d(h.contiguous() if nchw else h, weight, layer.bias), inplace=True)

        def conv1_form(h: torch.Tensor) -> bool:
            """Whether conv1 runs in NCHW on this input: fixed, or raced on the first large grid."""
            if backbone not in self.conv1_nchw or (h.shape[-2] - 2) * (h.shape[-1] - 2) < CONV1_RACE_MIN_POSITIONS:
                return False
            if self.conv1_nchw[backbone] is None:
                # conv1_2 through the conv plan, which takes the form its input's layout asks for
                convs, probe = self._convs[backbone], h[:1, :, :CONV1_RACE_SIDE, :CONV1_RACE_SIDE]
                winner = race({"channels_last": lambda: convs(second, plain(first, probe, False)),
                               "nchw": lambda: convs(second, plain(first, probe, True))})
                self.conv1_nchw[backbone] = winner == "nchw"
            return bool(self.conv1_nchw[backbone])

        def conv(name: str, h: torch.Tensor) -> torch.Tensor:
            return plain(name, h, name == first and conv1_form(h))

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

        def up(name: str, t: torch.Tensor, crop: Crop | None = None) -> torch.Tensor:
            if name not in kernels:  # a kernel that is not twice its stride: the plain layer
                return head.upsample(name, t, crop)
            kernel, stride = kernels[name]
            if crop is None:
                return upsample(t, kernel, stride)
            if t.device.type == "cpu":
                return upsample_crop(t, kernel, stride, *crop)
            # on a GPU the crop stays a view: the labels' kernel reads it in place, the scores stay there
            return crop_like(upsample(t, kernel, stride), *crop)

        return up
