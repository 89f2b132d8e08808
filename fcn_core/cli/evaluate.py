"""``fcn-workbench eval``: the paper's metrics on a VOC-layout split (under torchrun each process scores a share)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from .args import VARIANT_CHOICES, CLIError, add_device_arg, add_weights_args, engine_from_args, variants_from_arg, weights_paths

if TYPE_CHECKING:
    from ..model.bundle import FCNBundle


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="pixel accuracy, mean accuracy, mean IU, f.w. IU and per-class IU")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--split", default="val")
    add_weights_args(p)
    p.add_argument("--variant", choices=VARIANT_CHOICES, default="all")
    add_device_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON object: variant → metrics")
    p.add_argument("--record", metavar="DESCRIPTION",
                   help="store the metrics in the checkpoint's metadata, the evaluation data described so "
                        "(one FCN Workbench checkpoint, all its variants)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from .. import distributed
    from ..training.evaluation import evaluate, metrics_table

    record_to = _record_target(args) if args.record else None  # checked before the evaluation runs
    with distributed.session(args.device) as world:
        engine = engine_from_args(args)
        results = evaluate(engine, args.data, args.split, variants_from_arg(engine, args.variant))
        if not world.main:  # every rank has the summed figures; rank 0 records and prints them
            return 0
        if record_to is not None:
            record_metrics(*record_to, results, args.record)
        if args.json:
            print(json.dumps(results, indent=1))
        else:
            print(metrics_table(results, engine.meta.classes))
    return 0


def _record_target(args: argparse.Namespace) -> tuple[Path, "FCNBundle"]:
    """The one finished checkpoint --record may write into, and its bundle."""
    from ..weights import WeightsError, load_checkpoint

    paths = weights_paths(args)
    if len(paths) != 1 or args.variant != "all":
        raise CLIError("--record needs one checkpoint and every variant (no --variant)")
    try:
        bundle, state = load_checkpoint(paths[0])
    except WeightsError as e:
        raise CLIError(f"--record writes into FCN Workbench checkpoints only: {e}") from None
    if state:
        raise CLIError(f"{paths[0].name} holds an unfinished training run; record metrics on the finished model")
    return paths[0], bundle


def record_metrics(path: Path, bundle: "FCNBundle", results: dict[str, dict], description: str) -> None:
    """Write ``bundle`` back to ``path`` with ``results`` as its metrics (evaluated on ``description``), atomically."""
    from ..weights import save_checkpoint

    bundle.meta = bundle.meta.with_provenance(metrics=results, metrics_split=description)
    save_checkpoint(bundle, path)
