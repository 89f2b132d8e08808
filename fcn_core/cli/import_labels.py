"""``fcn-workbench import``: labelme, COCO, VOC or mask annotations into an image folder's workspace."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .args import add_weights_args, weights_paths
from .interrupts import interrupt_as_cancel

# fcn_core.storage.annotation_readers.IMPORT_KINDS, spelled out so that --help loads no image libraries (tested)
KINDS = ("labelme", "coco", "voc", "masks")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import labelme / COCO / VOC / mask annotations as corrections",
                       description="Import other tools' annotations into the workspace of --images, as if corrected "
                                   "there: all or nothing, existing corrections kept unless --overwrite.")
    p.add_argument("kind", choices=KINDS, help="labelme: JSON files; coco: an instances JSON; "
                   "voc: a folder with SegmentationClass/; masks: PNGs (class values, or class colours)")
    p.add_argument("path", type=Path, help="the annotation file or folder")
    p.add_argument("--images", type=Path, required=True, help="the folder of the images the annotations are of")
    p.add_argument("--classes", type=Path, default=None, metavar="MAP",
                   help='a JSON object from other names (or mask values, or "#rrggbb" colours) to this model\'s '
                        'class names or "void"')
    p.add_argument("--verified", action="store_true", help="mark the imported pixels verified (default: unverified)")
    p.add_argument("--overwrite", action="store_true", help="replace images' existing corrections")
    p.add_argument("--workspace", type=Path, default=None,
                   help="the workspace folder (default: fcn_workbench_labels beside the images)")
    add_weights_args(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..storage.label_import import ImportCancelled, import_labels
    from ..storage.workspace import Workspace
    from ..weights import load_bundle

    meta = load_bundle(weights_paths(args), args.at_once).meta  # the classes the labels index
    ws = Workspace(args.workspace) if args.workspace else None
    with interrupt_as_cancel() as interrupted:
        try:
            summary = import_labels(args.kind, args.path, args.images, meta.classes, meta.colors, args.classes,
                                    args.verified, args.overwrite, ws, cancel=interrupted)
        except ImportCancelled:
            print("fcn-workbench import: interrupted; nothing was imported", file=sys.stderr)
            return 130
    replaced = f", {len(summary.replaced)} replacing earlier corrections" if summary.replaced else ""
    n = len(summary.imported)
    print(f"imported labels for {n} image{'s' if n != 1 else ''}{replaced} "
          f"({'verified' if summary.verified else 'unverified'}) → {summary.workspace}")
    return 0
