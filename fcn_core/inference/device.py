"""Choosing where the model runs."""

from __future__ import annotations

import torch

from .device_choices import DEVICE_CHOICES


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` → CUDA when present, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError("CUDA was asked for, but this machine has no usable CUDA GPU")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ValueError(f"unknown device {name!r}; use {', '.join(DEVICE_CHOICES)}")


def inference_dtype(device: torch.device) -> torch.dtype:
    """Half precision on CUDA, fp32 on the CPU."""
    return torch.float16 if device.type == "cuda" else torch.float32


def tune_process(device: str | torch.device = "auto") -> torch.device:
    """Process-wide settings for inference on ``device``, made once by an entry point (the CLI, the window):
    cuDNN autotuning on CUDA, which pays for its first-run search when images repeat their sizes."""
    resolved = resolve_device(device) if isinstance(device, str) else device
    if resolved.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return resolved
