"""torchvision's ImageNet VGG16 state dict, as the starting point of a new FCN (the paper's
convolutionalisation: fc6/fc7 become 7×7 and 1×1 convolutions)."""

from __future__ import annotations

import torch

from ..model.architecture import VGG16Backbone
from .errors import WeightsError
from .state_dicts import fit_state_dict

_FEATURE_INDEX = {
    0: "conv1_1", 2: "conv1_2", 5: "conv2_1", 7: "conv2_2", 10: "conv3_1", 12: "conv3_2", 14: "conv3_3",
    17: "conv4_1", 19: "conv4_2", 21: "conv4_3", 24: "conv5_1", 26: "conv5_2", 28: "conv5_3",
}


def is_torchvision_vgg16(state: object) -> bool:
    return isinstance(state, dict) and "features.0.weight" in state and "classifier.0.weight" in state


def vgg16_to_backbone_state(state: dict[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """Rename torchvision's ``features.N`` / ``classifier.0|3`` keys to conv1_1 … fc7."""
    out: dict[str, torch.Tensor] = {}
    for index, name in _FEATURE_INDEX.items():
        for kind in ("weight", "bias"):
            key = f"features.{index}.{kind}"
            if key not in state:
                raise WeightsError(f"{source} is not a torchvision VGG16 ({key} is missing)")
            out[f"{name}.{kind}"] = state[key]
    for index, name in ((0, "fc6"), (3, "fc7")):
        for kind in ("weight", "bias"):
            key = f"classifier.{index}.{kind}"
            if key not in state:
                raise WeightsError(f"{source} is not a torchvision VGG16 ({key} is missing)")
            out[f"{name}.{kind}"] = state[key]
    return out


def load_vgg16_into(backbone: VGG16Backbone, state: dict[str, torch.Tensor], source: str) -> None:
    """Initialise a full-width backbone from an ImageNet VGG16 classifier."""
    fit_state_dict(backbone, vgg16_to_backbone_state(state, source), source)
