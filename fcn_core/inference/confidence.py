"""Softmax margin (top-1 minus top-2 probability) and entropy of class scores, in bounded memory."""

from __future__ import annotations

import numpy as np
import torch

_CHUNK_VALUES = 8 * 2**20  # scores handled at once (rows are processed in chunks of about this size)


def _chunk(s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    s = torch.nan_to_num(s, nan=0.0, posinf=3e38, neginf=-3e38)  # fp16 overflow gives ±inf logits
    top, labels = s.max(0)
    e = torch.exp(s - top)  # the top class has e = 1
    z = e.sum(0)
    second = e.scatter(0, labels[None], 0.0).max(0).values if s.shape[0] > 1 else torch.zeros_like(z)
    margin = (1.0 - second) / z
    # entropy = log z - Σ p (s - top), with p = e / z
    entropy = torch.log(z) - torch.where(e > 0, e * (s - top), 0.0).sum(0) / z
    return margin, entropy.clamp_min_(0.0)


def margin_and_entropy(scores: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """H×W float32 softmax margin and entropy (nats) of C×H×W scores."""
    s = torch.as_tensor(scores).float()
    c, h, w = s.shape
    margin = torch.empty((h, w), dtype=torch.float32)
    entropy = torch.empty((h, w), dtype=torch.float32)
    rows = max(1, _CHUNK_VALUES // max(1, c * w))
    with torch.inference_mode():
        for y in range(0, h, rows):
            m, e = _chunk(s[:, y : y + rows])
            margin[y : y + rows] = m.cpu()
            entropy[y : y + rows] = e.cpu()
    return margin.numpy(), entropy.numpy()
