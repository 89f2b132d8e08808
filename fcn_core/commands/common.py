"""Pieces the subcommands share: loading the engine the arguments name."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cli import CLIError
from ..engine import Engine
from ..paths import DEMO_MODEL
from ..weights import load_bundle


def weights_paths(args: argparse.Namespace) -> list[Path]:
    """The --weights files, or the bundled demo model."""
    if args.weights:
        return [Path(w) for w in args.weights]
    if not DEMO_MODEL.exists():
        raise CLIError(f"no --weights given and the demo model {DEMO_MODEL} is missing")
    return [DEMO_MODEL]


def engine_from_args(args: argparse.Namespace) -> Engine:
    return Engine(load_bundle(weights_paths(args), getattr(args, "at_once", False)), getattr(args, "device", "auto"))


def variants_from_arg(engine: Engine, variant: str) -> list[str]:
    """``all`` → every variant of the bundle; otherwise check the bundle has it."""
    if variant == "all":
        return list(engine.variants)
    if variant not in engine.variants:
        raise CLIError(f"the model has no {variant} variant (it has {', '.join(engine.variants)})")
    return [variant]
