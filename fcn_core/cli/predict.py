"""``fcn-workbench predict``: label PNGs (and optionally scores) for images and folders (under torchrun each process
segments ``files[rank::processes]``; rank 0 prints the summary)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .args import VARIANT_CHOICES, CLIError, add_device_arg, add_weights_args, engine_from_args, variants_from_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="segment images and write palette label PNGs")
    p.add_argument("images", nargs="+", type=Path, help="image files or folders")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    add_weights_args(p)
    p.add_argument("--variant", choices=VARIANT_CHOICES, default="8s")
    add_device_arg(p)
    p.add_argument("--save-logits", action="store_true", help="also write <stem>_<variant>.npy (float32 C×H×W scores)")
    p.add_argument("--batch", type=int, default=None, help="images of equal size run together (default: 8 on CUDA, 1 on the CPU)")
    p.add_argument("--readers", type=int, default=None, help="threads decoding images ahead of the model (default: min(8, cores) on CUDA, 1 on the CPU)")
    p.add_argument("--quiet", action="store_true", help="do not list each image")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from .. import distributed
    from ..inference.folder_predict import predict_folder
    from ..storage.image_io import expand_image_paths

    images = expand_image_paths(args.images)
    if not images:
        raise CLIError("no images found")
    if (args.batch is not None and args.batch < 1) or (args.readers is not None and args.readers < 1):
        raise CLIError("--batch and --readers must be at least 1")
    with distributed.session(args.device) as world:  # torchrun's processes join here; a plain run starts nothing
        engine = engine_from_args(args)
        variants = variants_from_arg(engine, args.variant)

        def progress(done: int, total: int, path: Path) -> None:
            if not args.quiet:  # one write per line: under torchrun the processes share one unbuffered stdout
                sys.stdout.write(f"{path.name}: {' '.join(variants)}\n")

        report = predict_folder(engine, images, args.out, variants, args.save_logits, args.batch, args.readers,
                                progress=progress, part=(world.rank, world.size))
        shares = distributed.gather((len(report.done), [why for _, why in report.failed]))
    failed = [why for _, whys in shares for why in whys]
    if not world.main:  # the same outcome on every rank; rank 0 says it
        return 2 if failed else 0
    for why in failed:
        print(f"fcn-workbench predict: skipped: {why}", file=sys.stderr)
    if failed:
        raise CLIError(f"{len(failed)} of {len(images)} images could not be read")
    if world.distributed:
        print(f"segmented {sum(n for n, _ in shares)} images into {args.out} with {world.size} processes")
    return 0
