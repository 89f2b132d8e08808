"""Training FCNs: joint heads on one backbone, or the paper's staged 32s → 16s → 8s schedule.

:meth:`Trainer.run` is a generator: it yields :class:`TrainProgress` after every step so a caller
(the CLI, or a GUI worker) can show progress and stop between steps by simply not resuming it.

Under torchrun (:mod:`fcn_core.distributed`) every rank runs the same trainer: ``cfg.batch`` samples per rank
of a global batch of ``cfg.batch × ranks`` drawn from one seeded stream (:mod:`.sample_stream`), gradients
averaged by DistributedDataParallel over a loss normalised by the global batch (:mod:`.loss`), so k steps
on W ranks give the weights k steps of one process with W times the batch give. Rank 0 alone writes.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import torch

from .. import distributed
from ..data.voc_dataset import Mosaic, VOCSegmentationFolder, train_transforms
from ..inference.device import resolve_device
from ..inference.engine import Engine
from ..model.bundle import FCNBundle
from ..model.metadata import ModelMeta, VariantSpec, class_meta
from ..model.normalize import normalize
from ..model.palette import VOC_CLASSES
from ..model.preprocessing import Preprocessing
from ..model.provenance import Origin, Provenance
from ..storage.voc_layout import VOCLayout
from ..weights import (PublicNet, WeightsError, bundle_from_public_nets, load_checkpoint, load_vgg16_into,
                       read_weights_file, save_checkpoint)
from .config import TrainConfig, TrainProgress
from .evaluation import evaluate
from .loss import balanced_weights, global_loss, labelled_weight, mean_loss
from .sample_stream import SampleStream


def _dataset_classes(layout: VOCLayout) -> tuple[tuple[str, ...], tuple[tuple[int, int, int], ...]]:
    return layout.read_classes() or class_meta(len(VOC_CLASSES))


def _initial_bundle(cfg: TrainConfig, variants: tuple[str, ...], classes, colors) -> FCNBundle:
    """A fresh bundle, or one started from --init (a checkpoint, public nets or an ImageNet VGG16)."""
    specs = tuple(VariantSpec(v) for v in variants)
    if cfg.init is None:
        return FCNBundle(ModelMeta(classes, colors, Preprocessing.imagenet(), specs, cfg.width, "trained by FCN Workbench"))
    item = read_weights_file(cfg.init)
    if isinstance(item, dict):  # torchvision VGG16: ImageNet preprocessing, full width
        bundle = FCNBundle(ModelMeta(classes, colors, Preprocessing.imagenet(), specs, 1.0,
                                     f"initialised from {Path(cfg.init).name}"))
        load_vgg16_into(bundle.backbones["shared"], item, Path(cfg.init).name)
        for head in bundle.heads.values():
            head.zero_skip_scores(conv7_too=True)
        return bundle
    bundle = bundle_from_public_nets([item]) if isinstance(item, PublicNet) else item
    if bundle.meta.classes != tuple(classes):
        raise WeightsError(f"{Path(cfg.init).name} has classes {', '.join(bundle.meta.classes)}, "
                           f"but the data has {', '.join(classes)}")
    return bundle


def _grow_stage(prev: FCNBundle, variant: str) -> FCNBundle:
    """The next net of the staged schedule, initialised from the previous one with zeroed skips."""
    meta = replace(prev.meta, variants=(VariantSpec(variant),))
    nxt = FCNBundle(meta)
    nxt.backbones["shared"].load_state_dict(prev.backbones["shared"].state_dict())
    old_head = prev.heads[prev.meta.variant_names[0]]
    new_head = nxt.heads[variant]
    new_head.zero_skip_scores()  # the layers the parent lacks start at zero; the parent's own are loaded over them
    shared = {k: v for k, v in old_head.state_dict().items()
              if k in new_head.state_dict() and not k.startswith(("upscore.", "upscore16.", "upscore8."))}
    new_head.load_state_dict({**new_head.state_dict(), **shared})
    return nxt


def lineage(start: FCNBundle, init: str | None) -> Origin | None:
    """Where a run's starting weights came from: the file and how they were trained (their own lineage
    included), without their metrics, which described other weights. None for a fresh net."""
    if init is None and start.meta.provenance.empty:
        return None
    return start.meta.provenance.origin(Path(init).name if init else start.meta.source)


def balanced_class_weights(dataset: VOCSegmentationFolder, n_class: int, max_items: int = 300) -> torch.Tensor:
    """:func:`~.loss.balanced_weights` of up to ``max_items`` of the dataset's label maps."""
    return balanced_weights((dataset.load(i)[1] for i in range(min(len(dataset), max_items))), n_class)


def _set_dropout(bundle: FCNBundle, p: float) -> None:
    for module in bundle.modules():
        if isinstance(module, torch.nn.Dropout2d):
            module.p = p


class Trainer:
    """Trains a bundle as a :class:`TrainConfig` says, writing resumable checkpoints to ``cfg.out``."""

    def __init__(self, cfg: TrainConfig, resume: bool = False, initial: FCNBundle | None = None) -> None:
        self.cfg = cfg
        self.world = distributed.current()
        self.device = resolve_device(cfg.device)
        self.layout = VOCLayout(Path(cfg.data))
        self.classes, self.colors = _dataset_classes(self.layout)
        self.dataset = VOCSegmentationFolder(cfg.data, cfg.split, train_transforms(cfg.crop, cfg.scale_jitter))
        if not len(self.dataset):
            raise ValueError(f"split {cfg.split!r} of {cfg.data} is empty")
        self.samples = Mosaic(self.dataset, cfg.mosaic) if cfg.mosaic > 1 else self.dataset
        self.stages = [(v,) for v in cfg.variants] if cfg.mode == "staged" else [cfg.variants]
        self.stage_index, self.step = 0, 0
        self.position = 0  # samples of the stream drawn so far, by all ranks together
        self.resume_state: dict | None = None
        if resume and Path(cfg.out).exists():
            bundle, state = load_checkpoint(cfg.out)
            if not state:
                raise ValueError(f"{cfg.out} holds no training state to resume from")
            self.bundle = bundle
            self.stage_index, self.step = int(state["stage"]), int(state["step"])
            # a checkpoint from before the stream kept its position: about where that run was
            self.position = int(state.get("position", self.step * cfg.batch))
            self.resume_state = state
        elif initial is not None:  # fine-tuning a model already in memory
            if initial.meta.classes != tuple(self.classes):
                raise ValueError("the data's classes differ from the model's: " + ", ".join(self.classes))
            self.bundle = initial
            self.stages = [initial.meta.variant_names]
        else:
            self.bundle = _initial_bundle(cfg, self.stages[0], self.classes, self.colors)
        self.lineage = (Origin.from_dict(json.loads(self.resume_state.get("lineage", "{}")))
                        if self.resume_state is not None else lineage(self.bundle, cfg.init))
        self.final_bundles: list[FCNBundle] = []
        self.class_weights = (balanced_class_weights(self.dataset, len(self.classes)).to(self.device)
                              if cfg.class_weights == "balanced" else None)
        self.last_loss = math.nan

    def _optimizer(self, bundle: FCNBundle) -> torch.optim.Optimizer:
        params = [p for p in bundle.parameters() if p.requires_grad]
        if self.cfg.optimizer == "sgd":
            return torch.optim.SGD(params, lr=self.cfg.lr, momentum=self.cfg.momentum, weight_decay=self.cfg.weight_decay)
        return torch.optim.Adam(params, lr=self.cfg.lr)

    def _provenance(self, unfinished: str = "") -> Provenance:
        """How these weights were made (metrics are added once evaluated); ``unfinished`` marks a run in progress."""
        cfg = self.cfg
        return Provenance(
            trained_on=f"{self.layout.root.name} (split {cfg.split}, {len(self.dataset)} images)",
            date=datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            recipe=f"{cfg.mode}, {cfg.iterations} iterations{' per stage' if cfg.mode == 'staged' else ''}, "
                   f"{self.batch_text()}, crop {cfg.crop}, {cfg.optimizer} lr {cfg.lr:g}, class weights {cfg.class_weights}, "
                   f"dropout {cfg.dropout:g}, scale jitter {'on' if cfg.scale_jitter else 'off'}, seed {cfg.seed}"
                   + (f", mosaic {cfg.mosaic}×{cfg.mosaic}" if cfg.mosaic > 1 else ""),
            unfinished=unfinished,
            initialised_from=self.lineage,
        )

    def batch_text(self) -> str:
        """``batch 8``, or in a distributed run ``batch 4 per process × 2 processes = 8``."""
        b, w = self.cfg.batch, self.world.size
        return f"batch {b}" if w == 1 else f"batch {b} per process × {w} processes = {b * w}"

    def _save(self, bundle: FCNBundle, opt: torch.optim.Optimizer) -> None:
        """A resumable checkpoint (rank 0 writes it); its metadata describes this run so far, not the weights
        it started from. ``position`` lets a run resumed on any number of processes continue the same stream."""
        if not self.world.main:
            return
        progress = f"stage {self.stage_index + 1} of {len(self.stages)}, step {self.step} of {self.cfg.iterations}"
        bundle.meta = replace(bundle.meta, provenance=self._provenance(progress))
        state = {"stage": self.stage_index, "step": self.step, "position": self.position, "optimizer": opt.state_dict(),
                 "config": json.dumps(asdict(self.cfg)), "done_stages": json.dumps([b.meta.to_dict() for b in self.final_bundles]),
                 "lineage": json.dumps(self.lineage.to_dict() if self.lineage else {})}
        save_checkpoint(bundle, self.cfg.out, train_state=state)

    def _loss(self, bundle: FCNBundle, net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor
              ) -> torch.Tensor | None:
        """The step's loss (every head), or None for a global batch with no labelled pixel (nothing runs)."""
        y = labels.to(self.device)
        total = labelled_weight(y, self.class_weights)
        if total is None:
            return None
        x = normalize(bundle.meta.preprocessing, images.to(self.device)).contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            outs = net(x)
        return mean_loss(outs, y, total, self.class_weights)

    def run(self) -> Iterator[TrainProgress]:
        """Train every stage, yielding progress after each step; the last item carries the metrics."""
        world = self.world
        torch.manual_seed(distributed.rank_seed(self.cfg.seed + self.stage_index))  # dropout: each rank its own draws
        stream = SampleStream(self.samples, self.cfg.seed, self.position)
        for si in range(self.stage_index, len(self.stages)):
            self.stage_index = si
            stage = "+".join(self.stages[si])
            bundle = self.bundle.to(self.device, memory_format=torch.channels_last).train()
            _set_dropout(bundle, self.cfg.dropout)
            net = distributed.all_heads(bundle, self.device)  # DDP in a distributed run: rank 0's weights everywhere
            opt = self._optimizer(bundle)
            if self.resume_state is not None:
                opt.load_state_dict(self.resume_state["optimizer"])
                self.resume_state = None
            total = self.cfg.iterations
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (1 - min(s, total - 1) / total) ** 0.9,
                                                      last_epoch=self.step - 1 if self.step else -1)
            void_batches = 0
            images_per_sample = self.cfg.mosaic ** 2  # a mosaic holds several images
            while self.step < total:
                t0 = time.perf_counter()
                images, labels = stream.next_batch(self.cfg.batch, world.rank, world.size)
                self.position = stream.position
                loss = self._loss(bundle, net, images, labels)
                if loss is None:
                    void_batches += 1
                    if void_batches > 100:
                        raise ValueError("the training data has (almost) no labelled pixels: every batch is void")
                    continue
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                self.step += 1
                self.last_loss = global_loss(loss)  # the global batch's: the same on every rank
                if not math.isfinite(self.last_loss):
                    raise FloatingPointError(f"the loss diverged at step {self.step} of stage {stage}; lower --lr")
                if self.step % self.cfg.checkpoint_every == 0:
                    self._save(bundle, opt)
                yield TrainProgress(stage, self.step, total, self.last_loss,
                                    len(images) * images_per_sample * world.size / (time.perf_counter() - t0))
            self.final_bundles.append(bundle.eval().cpu())
            self.step = 0
            if si + 1 < len(self.stages):
                self.bundle = _grow_stage(bundle.cpu(), self.stages[si + 1][0])
        final = self._assemble()
        final.meta = replace(final.meta, provenance=self._provenance())
        if world.main:
            save_checkpoint(final, self.cfg.out)  # the trained weights are safe before the evaluation runs
        metrics = self._evaluate(final)  # every rank scores its share
        if metrics:
            final.meta = final.meta.with_provenance(metrics=metrics, metrics_split=self.cfg.val_split)
        if world.main:
            save_checkpoint(final, self.cfg.out)
        self.bundle = final
        yield TrainProgress("done", 0, 0, self.last_loss, 0.0, done=True, metrics=metrics)

    def _assemble(self) -> FCNBundle:
        """Joint: the one bundle. Staged: each stage's net as a variant with its own backbone."""
        if len(self.final_bundles) == 1:
            return self.final_bundles[0]
        specs = tuple(VariantSpec(b.meta.variant_names[0], f"fcn{b.meta.variant_names[0]}") for b in self.final_bundles)
        bundle = FCNBundle(replace(self.final_bundles[0].meta, variants=specs))
        for spec, part in zip(specs, self.final_bundles):
            bundle.backbones[spec.backbone].load_state_dict(part.backbones["shared"].state_dict())
            bundle.heads[spec.name].load_state_dict(part.heads[spec.name].state_dict())
        return bundle.eval()

    def _evaluate(self, bundle: FCNBundle) -> dict:
        if not self.cfg.val_split or not (self.layout.splits / f"{self.cfg.val_split}.txt").exists():
            return {}
        return evaluate(Engine(bundle, self.cfg.device, precision="fp32"), self.cfg.data, self.cfg.val_split)
