"""Arguments the commands share, and the one error a command raises for a person to read (no torch)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ..inference.device_choices import DEVICE_CHOICES
from ..model.metadata import VARIANTS
from ..paths import DEMO_MODEL

if TYPE_CHECKING:
    from ..inference.engine import Engine

VARIANT_CHOICES = (*VARIANTS, "all")


class CLIError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


def add_weights_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", action="append", default=None, metavar="FILE",
                   help="checkpoint, torchfcn .pth or .caffemodel; repeat to bundle 32s/16s/8s (default: the demo model)")
    p.add_argument("--at-once", action="store_true", help="the FCN-8s weights are the at-once net (pool scaling)")


def add_device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto")


def parse_size(text: str) -> tuple[int, int]:
    """``500x500`` → (500, 500)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise CLIError(f"a size must look like 500x500, not {text!r}") from None
    if h < 1 or w < 1:
        raise CLIError(f"a size must be positive, not {text!r}")
    return h, w


def weights_paths(args: argparse.Namespace) -> list[Path]:
    """The --weights files, or the bundled demo model."""
    if args.weights:
        return [Path(w) for w in args.weights]
    if not DEMO_MODEL.exists():
        raise CLIError(f"no --weights given and the demo model {DEMO_MODEL} is missing")
    return [DEMO_MODEL]


def engine_from_args(args: argparse.Namespace) -> "Engine":
    """The engine the --weights, --at-once and --device arguments name, the process tuned for its device."""
    from ..inference.device import tune_process
    from ..inference.engine import Engine
    from ..weights import load_bundle

    device = getattr(args, "device", "auto")
    tune_process(device)
    return Engine(load_bundle(weights_paths(args), getattr(args, "at_once", False)), device)


def variants_from_arg(engine: "Engine", variant: str) -> list[str]:
    """``all`` → every variant of the bundle; otherwise check the bundle has it."""
    if variant == "all":
        return list(engine.variants)
    if variant not in engine.variants:
        raise CLIError(f"the model has no {variant} variant (it has {', '.join(engine.variants)})")
    return [variant]
