"""The project's own checkpoint: weights and their metadata in one weights-only file."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..messages import one_line
from ..storage.atomic import atomic_write_via, remove_stale_temps
from ..storage.json_input import parse_json
from ..model.bundle import FCNBundle
from ..model.metadata import ModelMeta
from .errors import WeightsError
from .state_dicts import fit_state_dict, safe_torch_load

FORMAT = "fcn-workbench-checkpoint"
VERSION = 1


def is_native(obj: object) -> bool:
    return isinstance(obj, dict) and obj.get("format") == FORMAT


def save_checkpoint(bundle: FCNBundle, path: str | Path, train_state: dict | None = None) -> None:
    """Write ``bundle`` and its metadata atomically (optionally with optimizer state for resuming)."""
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "meta": json.dumps(bundle.meta.to_dict()),
        "state_dict": {k: v.detach().float().cpu().contiguous() for k, v in bundle.state_dict().items()},
    }
    if train_state is not None:
        payload["train_state"] = train_state
    path = Path(path)
    remove_stale_temps(path.parent, path.name)  # what a training run killed while saving this file left
    atomic_write_via(path, lambda tmp: torch.save(payload, tmp))


def bundle_from_native(obj: dict, source: str) -> FCNBundle:
    """Build the bundle a loaded native checkpoint describes."""
    if obj.get("version") != VERSION:
        raise WeightsError(f"{source} is an FCN Workbench checkpoint of version {obj.get('version')}, this app reads version {VERSION}")
    raw = obj.get("meta")
    if not isinstance(raw, (str, bytes)):
        raise WeightsError(f"{source} has no metadata text")
    try:
        meta = ModelMeta.from_dict(parse_json(raw, "its metadata"))  # type: ignore[arg-type]
    except KeyError as e:
        raise WeightsError(f"{source} has broken metadata: {e} is missing") from None
    except (TypeError, ValueError, AttributeError, OverflowError, RecursionError) as e:
        raise WeightsError(f"{source} has broken metadata: {one_line(e)}") from None
    state = obj.get("state_dict")
    if not isinstance(state, dict):
        raise WeightsError(f"{source} has no state_dict")
    bundle = FCNBundle(meta)
    fit_state_dict(bundle, state, source)
    return bundle.eval()


def load_checkpoint(path: str | Path) -> tuple[FCNBundle, dict | None]:
    """A native checkpoint's bundle and its training state (None if it has none)."""
    path = Path(path)
    obj = safe_torch_load(path, path.name)
    if not is_native(obj):
        raise WeightsError(f"{path.name} is not an FCN Workbench checkpoint")
    return bundle_from_native(obj, path.name), obj.get("train_state")
