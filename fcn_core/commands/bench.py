"""``fcn-workbench bench``: the engine against the reference path, in one run."""

from __future__ import annotations

import argparse
import json

import torch

from ..cli import add_device_arg, add_weights_args
from ..benchmark import run_benchmark
from ..bundle import FCNBundle
from ..metadata import VariantSpec, voc_meta
from ..weights import load_bundle


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="time the engine against the plain eager fp32 reference")
    add_weights_args(p)
    add_device_arg(p)
    p.add_argument("--size", default="500x500", help="HxW of the test image")
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--full-vgg16", action="store_true", help="a random full-width VGG16 FCN-8s (ignores --weights)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        h, w = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 500x500, not {args.size!r}") from None
    if args.full_vgg16:
        def make() -> FCNBundle:
            torch.manual_seed(0)  # the same random weights for both paths
            return FCNBundle(voc_meta((VariantSpec("8s"),), 1.0, "random full-width FCN-8s")).eval()
    else:
        from .common import weights_paths

        paths = weights_paths(args)

        def make() -> FCNBundle:
            return load_bundle(paths, args.at_once)
    result = run_benchmark(make, (h, w), args.device, args.iters)
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        for k, v in result.to_dict().items():
            print(f"{k:>20}: {v:.3f}" if isinstance(v, float) else f"{k:>20}: {v}")
    return 0
