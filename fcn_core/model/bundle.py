"""A bundle: one to three FCN heads, on one shared backbone or each on its own, with metadata."""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import torch
from torch import nn

from .architecture import BackboneFeatures, FCNHead, VGG16Backbone
from .metadata import ModelMeta


class FCNBundle(nn.Module):
    """Backbones (``backbones.<id>.*``) and heads (``heads.<variant>.*``) described by ``meta``."""

    def __init__(self, meta: ModelMeta) -> None:
        super().__init__()
        self.meta = meta
        self.backbones = nn.ModuleDict()
        self.heads = nn.ModuleDict()
        for spec in meta.variants:
            if spec.backbone not in self.backbones:
                self.backbones[spec.backbone] = VGG16Backbone(meta.width)
            self.heads[spec.name] = FCNHead(spec.name, meta.n_class, self.backbones[spec.backbone], spec.at_once)

    def backbone_of(self, variant: str) -> str:
        return self.meta.variant(variant).backbone

    def features(self, backbone: str, x: torch.Tensor) -> BackboneFeatures:
        return self.backbones[backbone](x)

    def with_features(self, variants: Sequence[str], features: Callable[[str], BackboneFeatures]
                      ) -> Iterator[tuple[str, BackboneFeatures]]:
        """Each variant with its backbone's features, ``features(backbone)`` called once per distinct backbone."""
        done: dict[str, BackboneFeatures] = {}
        for v in variants:
            backbone = self.backbone_of(v)
            if backbone not in done:
                done[backbone] = features(backbone)
            yield v, done[backbone]

    def forward(self, x: torch.Tensor, variant: str | None = None) -> torch.Tensor:
        """Final scores of one variant (default: the finest one in the bundle)."""
        variant = variant or self.meta.variant_names[-1]
        return self.heads[variant](self.features(self.backbone_of(variant), x))

    def forward_all(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Final scores of every variant, each distinct backbone run once."""
        return {v: self.heads[v](f) for v, f in self.with_features(self.meta.variant_names, lambda b: self.features(b, x))}
