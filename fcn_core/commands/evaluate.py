"""``fcn-workbench eval``: the paper's metrics on a VOC-layout split."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..cli import add_device_arg, add_weights_args
from ..evaluation import evaluate, metrics_table
from .common import engine_from_args, variants_from_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="pixel accuracy, mean accuracy, mean IU, f.w. IU and per-class IU")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--split", default="val")
    add_weights_args(p)
    p.add_argument("--variant", choices=("32s", "16s", "8s", "all"), default="all")
    add_device_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON object: variant → metrics")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    engine = engine_from_args(args)
    results = evaluate(engine, args.data, args.split, variants_from_arg(engine, args.variant))
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        print(metrics_table(results, engine.meta.classes))
    return 0
