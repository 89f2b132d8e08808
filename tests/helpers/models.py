"""Small FCN bundles that run fast on the CPU, for tests and their fixtures."""

from __future__ import annotations

import torch

from fcn_core import FCNBundle, ModelMeta, Preprocessing, VariantSpec, voc_colormap

TINY_WIDTH = 0.0625


def tiny_meta(variants=("32s", "16s", "8s"), shared: bool = True, n_class: int = 5, width: float = TINY_WIDTH,
              at_once: bool = False) -> ModelMeta:
    specs = tuple(VariantSpec(v, "shared" if shared else f"fcn{v}", at_once and v == "8s") for v in variants)
    colors = tuple(tuple(int(x) for x in c) for c in voc_colormap(n_class))
    return ModelMeta(tuple(f"c{i}" for i in range(n_class)), colors, Preprocessing.voc(), specs, width, "test")


def randomize(bundle: FCNBundle, seed: int = 0) -> FCNBundle:
    """Random weights everywhere (score layers and upsamplings too), scaled to keep activations sane."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in bundle.named_parameters():
            if "upscore" in name:
                p.add_(0.05 * torch.randn(p.shape, generator=g))
            elif p.ndim > 1:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return bundle.eval()
