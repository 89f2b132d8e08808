"""The public FCN nets: torchfcn state dicts and the authors' caffemodels, in torchfcn naming."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import WeightsError

MAX_CLASSES = 255  # 255 is void in the label PNGs

BACKBONE_PREFIXES = ("conv", "fc6", "fc7")
VARIANT_BY_FINAL_LAYER = {"upscore8": "8s", "upscore16": "16s", "upscore": "32s"}


@dataclass(frozen=True)
class PublicNet:
    """One separately trained net: its variant, its tensors in torchfcn naming, and where it came from."""

    variant: str
    at_once: bool
    state: dict[str, torch.Tensor]
    source: str
    format: str

    @property
    def n_class(self) -> int:
        return int(self.state["score_fr.weight"].shape[0])

    @property
    def width(self) -> float:
        return int(self.state["conv1_1.weight"].shape[0]) / 64


def variant_from_keys(keys, source: str) -> str:
    """FCN-32s/16s/8s from which final upsampling layer a state dict has."""
    layers = {k.rsplit(".", 1)[0] for k in keys}
    for layer, variant in VARIANT_BY_FINAL_LAYER.items():
        if layer in layers:
            return variant
    if "score_fr" in layers and "upscore2" not in layers:
        return "32s"
    raise WeightsError(f"{source} has no FCN output layer (upscore, upscore16 or upscore8), so its variant is unknown")


def public_net(state: dict[str, torch.Tensor], source: str, fmt: str, at_once: bool = False) -> PublicNet:
    """Check the essentials of a torchfcn-named state dict and say which net it is."""
    for key, value in state.items():
        if not isinstance(key, str):
            raise WeightsError(f"{source} is not a state dict this app reads: it has a key that is not text ({str(key)[:40]})")
        if not isinstance(value, torch.Tensor):
            raise WeightsError(f"{source}: {key} is a {type(value).__name__}, not a tensor")
        if not value.is_floating_point() or value.dim() == 0:
            raise WeightsError(f"{source}: {key} is not an array of weights ({value.dtype}, {value.dim()} dimensions)")
    for key in ("conv1_1.weight", "score_fr.weight"):
        if key not in state:
            raise WeightsError(f"{source} is not an FCN ({key} is missing)")
    if state["conv1_1.weight"].dim() != 4 or state["score_fr.weight"].dim() != 4:
        raise WeightsError(f"{source}: conv1_1 and score_fr weights must be 4-d convolution kernels")
    n_class = int(state["score_fr.weight"].shape[0])
    if not 1 <= n_class <= MAX_CLASSES:
        raise WeightsError(f"{source} scores {n_class} classes; this app handles 1 to {MAX_CLASSES}")
    variant = variant_from_keys(state.keys(), source)
    if at_once and variant != "8s":
        raise WeightsError(f"{source} is FCN-{variant}; only FCN-8s has an at-once form")
    return PublicNet(variant, at_once, state, source, fmt)


def public_state_dict(bundle, variant: str) -> dict[str, torch.Tensor]:
    """One variant of a bundle as a torchfcn-named state dict (its backbone and its head)."""
    backbone = bundle.backbones[bundle.backbone_of(variant)]
    state = {k: v.detach().clone() for k, v in backbone.state_dict().items()}
    state.update({k: v.detach().clone() for k, v in bundle.heads[variant].state_dict().items()})
    return state
