"""``fcn-workbench make-demo-data``: generated scenes in VOC layout."""

from __future__ import annotations

import argparse
from pathlib import Path



def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("make-demo-data", help="generate labelled scenes (VOC layout) for training and evaluation")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--count", type=int, default=1000, help="scenes per seed")
    p.add_argument("--seed", type=int, nargs="+", default=[0], help="one or more scene series, all listed in --split")
    p.add_argument("--split", default="train")
    p.add_argument("--size", type=int, nargs=2, default=(160, 160), metavar=("H", "W"))
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..data.demo_data import write_scene_dataset

    ids = write_scene_dataset(args.out, args.count, args.seed, args.split, tuple(args.size))
    seeds = ", ".join(str(s) for s in args.seed)
    print(f"wrote {len(ids)} scenes (seed{'s' if len(args.seed) > 1 else ''} {seeds}) to {args.out} as split {args.split}")
    return 0
