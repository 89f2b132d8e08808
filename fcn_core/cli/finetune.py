"""``fcn-workbench finetune``: the window's Correct → Fine-tune, headless, with the same code and defaults (under
torchrun: distributed, ``--batch`` per process)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..training.config import FINETUNE_ITERATIONS, FINETUNE_LR
from .args import CLIError, add_device_arg, add_weights_args, weights_paths
from .interrupts import interrupt_as_cancel


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("finetune", help="fine-tune a model on an image folder's corrections (as the window does)")
    p.add_argument("source", type=Path, help="an image folder (its workspace beside it) or a workspace")
    add_weights_args(p)
    p.add_argument("--out", type=Path, help="the new checkpoint (default: <workspace>/finetuned_<date>_<time>.pt)")
    add_device_arg(p)
    p.add_argument("--iterations", type=int, default=FINETUNE_ITERATIONS, help="training steps")
    p.add_argument("--batch", type=int, default=None, help="crops per step, per process under torchrun (default: as "
                   "many as keep a step's pixels the same whatever the images' size)")
    p.add_argument("--lr", type=float, default=FINETUNE_LR, help="Adam's learning rate")
    p.add_argument("--only-verified", action="store_true",
                   help="train on verified pixels only (by default a saved image's unverified pixels train as they are)")
    p.add_argument("--seed", type=int, default=0, help="the same seed gives the same checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(handler=run)


class Interrupted(Exception):
    """Ctrl+C: stop at the next step; the checkpoints already written are complete."""


def run(args: argparse.Namespace) -> int:
    from .. import distributed

    if args.iterations < 1 or (args.batch is not None and args.batch < 1) or not args.lr > 0:
        raise CLIError("--iterations, --batch and --lr must be positive")
    with distributed.session(args.device) as world:  # torchrun's processes join here; a plain run starts nothing
        return _finetune(args, world.main)


def _finetune(args: argparse.Namespace, main: bool) -> int:
    """The fine-tune; only ``main`` (rank 0, or the one process) prints."""
    from ..inference.device import tune_process
    from ..training.finetune import finetune_on_corrections
    from ..weights import load_bundle

    tune_process(args.device)
    paths = weights_paths(args)
    bundle = load_bundle(paths, args.at_once)

    with interrupt_as_cancel() as interrupted:
        def progress(step: int, total: int, loss: float) -> None:
            if interrupted():
                raise Interrupted
            if main and not args.quiet and (step == total or step % max(1, total // 20) == 0):
                print(f"step {step}/{total}, loss {loss:.4f}", file=sys.stderr, flush=True)

        try:
            result = finetune_on_corrections(bundle, args.source, args.iterations, args.batch, lr=args.lr,
                                             device=args.device, progress=progress, out=args.out, seed=args.seed,
                                             only_verified=args.only_verified,
                                             started_from=", ".join(Path(p).name for p in paths))
        except Interrupted:
            if main:
                print("fcn-workbench finetune: interrupted; the loaded weights are unchanged", file=sys.stderr)
            return 130
    if not main:
        return 0
    print(f"saved {result.checkpoint} (kept step {result.kept_step} of {result.iterations}, {result.seconds:.0f} s)")
    for name, metrics in (("before", result.before), ("after", result.after)):
        figures = ", ".join(f"FCN-{v} {100 * m['mean_iu']:.1f}" for v, m in metrics.items())
        print(f"held-out mean IU {name}: {figures}" if metrics else
              f"held-out mean IU {name}: none (one corrected image: nothing is held out)")
    return 0
