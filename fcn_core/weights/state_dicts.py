"""Fitting a state dict into a module, with one clear sentence when it does not fit."""

from __future__ import annotations

import warnings

import torch
from torch import nn

from ..storage.regular_files import NotARegularFile, open_regular
from .errors import WeightsError

MAX_WEIGHTS_BYTES = 4 << 30  # the full-width VGG16 FCN is 0.5 GB; a file eight times that is not a weights file


def _short(keys: list[str], n: int = 4) -> str:
    return ", ".join(keys[:n]) + (f" and {len(keys) - n} more" if len(keys) > n else "")


def fit_state_dict(module: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``module`` exactly, or raise :class:`WeightsError` naming what differs.

    fc6/fc7 weights stored as fully connected matrices are reshaped to their convolution form.
    """
    expected = module.state_dict()
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise WeightsError(f"{source} does not hold a state dict (names → tensors)")
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    problems = []
    if missing:
        problems.append(f"missing {_short(missing)}")
    if unexpected:
        problems.append(f"unexpected {_short(unexpected)}")
    fitted: dict[str, torch.Tensor] = {}
    bad_shapes = []
    for k, want in expected.items():
        got = state.get(k)
        if got is None:
            continue
        if not isinstance(got, torch.Tensor):
            bad_shapes.append(f"{k} is not a tensor")
            continue
        if tuple(got.shape) != tuple(want.shape):
            if got.numel() == want.numel() and k.split(".")[-2] in ("fc6", "fc7"):
                got = got.reshape(want.shape)
            else:
                bad_shapes.append(f"{k} is {tuple(got.shape)}, expected {tuple(want.shape)}")
                continue
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            bad_shapes.append(f"{k} holds values that are not finite (NaN or infinity)")
            continue
        fitted[k] = got.to(want.dtype)
    if bad_shapes:
        problems.append("wrong tensors: " + "; ".join(bad_shapes[:3]) + (" …" if len(bad_shapes) > 3 else ""))
    if problems:
        raise WeightsError(f"{source} does not fit this network: " + "; ".join(problems))
    module.load_state_dict(fitted, strict=True)


def safe_torch_load(path, source: str) -> object:
    """``torch.load`` of an untrusted file: tensors and plain containers only, never code."""
    try:
        f = open_regular(path, MAX_WEIGHTS_BYTES, "weights file")
    except NotARegularFile as e:
        raise WeightsError(str(e)) from None
    try:
        with f, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(f, map_location="cpu", weights_only=True)
    except MemoryError:
        raise WeightsError(f"{source} needs more memory to load than this machine has free") from None
    except Exception as e:  # noqa: BLE001 - any failure of an untrusted file is the file's fault
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if "weights only" in reason.lower() or "weights_only" in reason.lower() or "unsupported global" in reason.lower():
            raise WeightsError(f"{source} is a pickle that holds more than weights (it could run code), so it was not loaded") from None
        raise WeightsError(f"{source} is not a readable PyTorch checkpoint ({reason[:160]})") from None
