"""Training samples laid side by side (the trainer's mosaics, the fine-tune's canvases); torch only, so the
fine-tune does not load torchvision for it."""

from __future__ import annotations

import torch


def tile(items: list[tuple[torch.Tensor, torch.Tensor]], cols: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Equal-sized (C×H×W image, H×W labels) items side by side, ``cols`` to a row, rows top to bottom; the
    number of items must fill the rows."""
    rows = [(torch.cat([img for img, _ in items[r:r + cols]], dim=-1),
             torch.cat([lab for _, lab in items[r:r + cols]], dim=-1)) for r in range(0, len(items), cols)]
    return torch.cat([img for img, _ in rows], dim=-2), torch.cat([lab for _, lab in rows], dim=-2)
