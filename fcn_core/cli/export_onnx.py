"""``fcn-workbench export-onnx``: the net as an ONNX file, uint8 image in, labels (and scores) out."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..model.metadata import VARIANTS
from .args import CLIError, add_weights_args, weights_paths


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-onnx", help="write the net as ONNX: uint8 RGB image in, labels (and scores) out")
    add_weights_args(p)
    p.add_argument("--variant", choices=(*VARIANTS, "all"), default=None,
                   help="the head to export, or all of them in one graph (default: the finest the weights have)")
    p.add_argument("--out", type=Path, required=True, help="the .onnx file to write")
    p.add_argument("--scores", action="store_true", help="also output the N×C×H×W class scores")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..model.onnx_graph import export_onnx, output_names
    from ..storage.atomic import atomic_write_via
    from ..weights import load_bundle

    out: Path = args.out
    if out.exists() and not args.overwrite:
        raise CLIError(f"{out} exists; pass --overwrite to replace it")
    if not out.parent.is_dir():
        raise CLIError(f"the folder {out.parent} does not exist")
    bundle = load_bundle(weights_paths(args), args.at_once)
    names = bundle.meta.variant_names
    variants = list(names) if args.variant == "all" else [args.variant or names[-1]]
    missing = [v for v in variants if v not in names]
    if missing:
        raise CLIError(f"these weights have no FCN-{missing[0]} head; they have {', '.join(names)}")
    # written beside --out and renamed into place: a failed export leaves no half-written file
    atomic_write_via(out, lambda tmp: export_onnx(bundle, variants, Path(tmp), scores=args.scores))
    print(f"{out}: FCN-{', FCN-'.join(variants)}, {bundle.meta.n_class} classes; input 'image' "
          f"(N×H×W×3 uint8 RGB, any H and W), outputs {', '.join(output_names(variants, args.scores))}")
    return 0
