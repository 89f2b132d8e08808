"""``fcn-workbench predict``: label PNGs (and optionally scores) for images."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_bytes
from ..cli import CLIError, add_device_arg, add_weights_args
from ..image_io import ImageReadError, expand_image_paths, read_image, write_label_png
from ..palette import full_palette
from .common import engine_from_args, variants_from_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="segment images and write palette label PNGs")
    p.add_argument("images", nargs="+", type=Path, help="image files or folders")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    add_weights_args(p)
    p.add_argument("--variant", choices=("32s", "16s", "8s", "all"), default="8s")
    add_device_arg(p)
    p.add_argument("--save-logits", action="store_true", help="also write <stem>_<variant>.npy (float32 C×H×W scores)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    images = expand_image_paths(args.images)
    if not images:
        raise CLIError("no images found")
    engine = engine_from_args(args)
    variants = variants_from_arg(engine, args.variant)
    args.out.mkdir(parents=True, exist_ok=True)
    palette = full_palette(engine.meta.palette())
    failures = 0
    for path in images:
        try:
            image = read_image(path)
        except ImageReadError as e:
            print(f"fcn-workbench predict: skipped: {e}", file=sys.stderr)
            failures += 1
            continue
        analysis = engine.analyze(image)
        for v in variants:
            pred = engine.predict(analysis, v)
            write_label_png(args.out / f"{path.stem}_{v}.png", pred.labels, palette)
            if args.save_logits:
                buf = io.BytesIO()
                np.save(buf, pred.scores.astype(np.float32))
                atomic_write_bytes(args.out / f"{path.stem}_{v}.npy", buf.getvalue())
        print(f"{path.name}: {' '.join(variants)}")
    if failures:
        raise CLIError(f"{failures} of {len(images)} images could not be read")
    return 0
