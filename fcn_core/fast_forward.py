"""A bundle's forward pass in the engine's faster, equivalent form (same weights, same results).

The transposed convolutions run as 2×2 convolutions + pixel shuffle and, on the CPU, fc6 as
unfold + matrix product (:mod:`fcn_core.fast_ops`). The kernels are derived once from the bundle's
weights: build a new :class:`FastForward` after changing them.
"""

from __future__ import annotations

import torch
from torch import nn

from .architecture import BackboneFeatures, Upsampler
from .bundle import FCNBundle
from .fast_ops import fc6_forward, phase_kernel, upsample


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
        self._fc6 = {name: bb.fc6.weight.detach().reshape(bb.fc6.out_channels, -1)
                     for name, bb in bundle.backbones.items()}

    def features(self, backbone: str, x: torch.Tensor) -> BackboneFeatures:
        """pool3, pool4 and conv7 of the named backbone on a normalised N×3×H×W batch."""
        bb = self.bundle.backbones[backbone]
        wm = self._fc6[backbone]
        return bb(x, fc6=lambda h: fc6_forward(h, bb.fc6, wm))

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
