"""``fcn-workbench train``: train or fine-tune an FCN bundle on a VOC-layout dataset (under torchrun: distributed,
``--batch`` per process)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..model.metadata import VARIANTS
from ..training.config import TrainConfig
from .args import add_device_arg


def register(sub: argparse._SubParsersAction) -> None:
    d = TrainConfig("", "")
    p = sub.add_parser("train", help="train (or fine-tune) FCN heads on a VOC-layout dataset")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="checkpoint to write (resumable)")
    p.add_argument("--init", help="start from a checkpoint, torchfcn/caffe weights, or a torchvision VGG16 file")
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    p.add_argument("--mode", choices=("joint", "staged"), default=d.mode,
                   help="joint: all heads on one shared backbone; staged: 32s, then 16s from 32s, then 8s from 16s")
    p.add_argument("--width", type=float, default=d.width, help="channel width multiplier of a new net")
    add_device_arg(p)
    p.add_argument("--iterations", type=int, default=d.iterations, help="optimizer steps (per stage when staged)")
    p.add_argument("--batch", type=int, default=d.batch, help="samples per step (per process under torchrun)")
    p.add_argument("--crop", type=int, default=d.crop)
    p.add_argument("--optimizer", choices=("adam", "sgd"), default=d.optimizer)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--class-weights", choices=("none", "balanced"), default=d.class_weights,
                   help="balanced: weight the loss by sqrt(median frequency / class frequency)")
    p.add_argument("--dropout", type=float, default=d.dropout,
                   help="fc6/fc7 channel dropout while training (default: the paper's 0.5)")
    p.add_argument("--no-scale-jitter", dest="scale_jitter", action="store_false",
                   help="train at the images' own scale (no random 0.8–1.25 rescaling)")
    p.add_argument("--mosaic", type=int, default=d.mosaic, metavar="K",
                   help="tile K×K crops into each training sample, sharing conv1_1's 100 px padding "
                        "(2: four scenes for little more than the cost of one; --batch counts samples)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--split", default=d.split)
    p.add_argument("--val-split", default=d.val_split)
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    p.add_argument("--resume", action="store_true", help="continue from the training state in --out")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from .. import distributed
    from ..training.evaluation import metrics_table
    from ..training.trainer import Trainer

    cfg = TrainConfig(
        data=str(args.data), out=str(args.out), split=args.split, val_split=args.val_split or None, init=args.init,
        variants=tuple(args.variants), mode=args.mode, width=args.width, device=args.device, iterations=args.iterations,
        batch=args.batch, crop=args.crop, optimizer=args.optimizer, lr=args.lr, seed=args.seed,
        checkpoint_every=args.checkpoint_every, class_weights=args.class_weights,
        dropout=args.dropout, scale_jitter=args.scale_jitter, mosaic=args.mosaic)
    with distributed.session(cfg.device) as world:  # torchrun's processes join here; a plain run starts nothing
        trainer = Trainer(cfg, resume=args.resume)
        if world.main:
            spread = f", {world.size} processes ({world.backend}), {trainer.batch_text()}" if world.distributed else ""
            print(f"training {cfg.mode} {', '.join(cfg.variants)} on {len(trainer.dataset)} images, "
                  f"device {trainer.device}{spread}", flush=True)
        for p in trainer.run():
            if not world.main:
                continue
            if p.done:
                print(f"\nsaved {cfg.out}")
                if p.metrics:
                    print(metrics_table(p.metrics, trainer.bundle.meta.classes))
            elif p.step % 10 == 0 or p.step == p.total:
                print(f"\r[{p.stage}] step {p.step}/{p.total}  loss {p.loss:.4f}  {p.images_per_s:.1f} img/s", end="",
                      file=sys.stderr, flush=True)
    return 0
