"""``fcn-workbench export``: corrected labels as a fine-tuning dataset (VOC layout or COCO instances)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .args import CLIError, add_device_arg, add_weights_args, engine_from_args, weights_paths
from .interrupts import interrupt_as_cancel


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write corrected labels as a dataset (VOC layout, COCO or labelme)")
    p.add_argument("source", type=Path, help="an image folder (its workspace beside it) or a workspace")
    p.add_argument("--out", required=True, help="the dataset's folder")  # text: Path("") would be "."
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--predict-missing", action="store_true", help="label uncorrected images with the model's finest variant")
    p.add_argument("--only-verified", action="store_true", help="mark unverified pixels void (255)")
    p.add_argument("--overwrite", action="store_true", help="write into a folder that already holds a dataset")
    p.add_argument("--format", dest="dataset_format", choices=("voc", "coco", "labelme"), default="voc",
                   help="voc: the VOC layout (default); coco: images/ and annotations/instances_{train,val,trainval}.json; "
                        "labelme: <image>.jpg beside <image>.json (the folder labelme opens) and labels.txt")
    p.add_argument("--polygons", action="store_true",
                   help="COCO segmentations as polygons instead of exact RLE (holes and sub-pixel detail are lost)")
    add_weights_args(p)
    add_device_arg(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..storage.export import ExportCancelled, export_dataset, export_said

    if args.predict_missing:  # the model runs: the engine, and torch with it
        engine = engine_from_args(args)
        meta, predict = engine.meta, (lambda image: engine.segment(image).labels)
    else:  # the model's classes only
        from ..weights import load_bundle

        meta, predict = load_bundle(weights_paths(args), args.at_once).meta, None
    if args.polygons and args.dataset_format != "coco":
        raise CLIError("--polygons applies to --format coco")
    if not args.out.strip():
        raise CLIError("--out needs a folder name")
    args.out = Path(args.out)
    # Ctrl+C cancels: before the dataset lands nothing is written; once it has landed, it is reported as done
    with interrupt_as_cancel() as interrupted:
        try:
            summary = export_dataset(args.source, args.out, meta.classes, meta.colors, args.val_fraction, args.seed,
                                     predict, args.only_verified, args.overwrite, cancel=interrupted,
                                     dataset_format=args.dataset_format, polygons=args.polygons)
        except ExportCancelled:
            print(f"fcn-workbench export: interrupted; nothing was exported, {args.out} is as it was", file=sys.stderr)
            return 130
    print(export_said(summary, args.out, args.dataset_format))
    return 0
