"""Applying a :class:`~fcn_core.model.preprocessing.Preprocessing` to images: the network's input tensors."""

from __future__ import annotations

import numpy as np
import torch

from .preprocessing import Preprocessing


def normalize(pre: Preprocessing, t: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """RGB N×3×H×W (uint8 values 0–255) → normalised float N×3×H×W on the same device."""
    t = t.float()
    if pre.channel_order == "BGR":
        t = t.flip(1)
    if pre.value_range != 255.0:
        t = t * (pre.value_range / 255.0)
    mean = torch.tensor(pre.mean, device=t.device).view(1, 3, 1, 1)
    std = torch.tensor(pre.std, device=t.device).view(1, 3, 1, 1)
    return ((t - mean) / std).to(dtype)


def to_input(pre: Preprocessing, images: np.ndarray | torch.Tensor, device: torch.device | str = "cpu",
             dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """RGB uint8 N×H×W×3 (or H×W×3) → normalised float N×3×H×W on ``device``."""
    t = torch.as_tensor(images)
    if t.ndim == 3:
        t = t.unsqueeze(0)
    return normalize(pre, t.to(device, non_blocking=True).permute(0, 3, 1, 2), dtype)
