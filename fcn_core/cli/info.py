"""``fcn-workbench info``: what a weights file (or several) holds."""

from __future__ import annotations

import argparse

from .args import add_weights_args, weights_paths


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe weights files: format, variants, classes, preprocessing")
    add_weights_args(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..weights import describe_weights

    print(describe_weights(weights_paths(args), args.at_once))
    return 0
