"""Fine-tuning the loaded model on a person's corrections: export, measure, train, keep the best, measure again.

The recipe is made for a handful of corrected images (5–50) from a domain the model does not know, and
was chosen by ``scripts/bench_finetune.py`` (docs/finetune.md has its figures):

- it trains on the pixels of the person's own image files (the export's JPEG copies would add artefacts);
- every head trains together on one backbone (the sum of their losses), so no head is left behind;
- random crops (about 80 % of an image's shorter side) that move every image against the stride-32
  grid, plus horizontal flips: with 20 images, the same full images in the same place are learnt by heart;
  a step's crops are tiled into one canvas, so conv1_1's padding is paid once per step, not per crop;
- a class-balanced loss (sqrt of median-frequency balancing, counted on the images trained on): the mean IU
  weighs every class alike, and with a handful of images the rare, thin classes would be drowned;
- Adam at 1e-3 with the poly decay, all layers at one rate; no replay of the model's old data and no
  input re-normalisation (neither helped on the shifted domains, see the docs);
- the held-out corrections (a fifth) are scored at regular checks and the best check is kept, but only
  one where no head does worse than the model started, on the held-out images together and in most
  resamples of them (:mod:`.guard`: a gain that rests on one image is luck); the start itself is a candidate.

Under torchrun (:mod:`fcn_core.distributed`) rank 0 exports and writes; every rank draws the whole global
batch's crops from the same seeded generator and trains on its block of them (``batch`` crops per rank, the
loss normalised over the global batch, gradients averaged by DDP), and the held-out checks sum the ranks'
confusion matrices, so every rank keeps the same step, the one a single process with the global batch keeps
(exactly so when ``batch`` fills whole canvases, as the default does: the canvases are then the same).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

from .. import distributed
from ..data.tiles import tile
from ..inference.device import resolve_device
from ..inference.engine import Engine
from ..memory import ensure_fits
from ..model.bundle import FCNBundle
from ..model.normalize import to_input
from ..model.palette import VOID
from ..model.provenance import Provenance
from ..storage.export import ExportSummary, export_dataset, find_source
from ..storage.image_io import read_image, read_label_png
from ..storage.voc_layout import VOCLayout
from ..storage.workspace import Workspace
from ..weights import save_checkpoint
from .config import FINETUNE_CANVAS, FINETUNE_CHECKS, FINETUNE_ITERATIONS, FINETUNE_LR, FINETUNE_PIXELS_PER_STEP
from .guard import not_worse
from .loss import balanced_weights, global_loss, labelled_weight, mean_loss
from .metrics import confusion_matrix, scores_from_confusion


@dataclass(frozen=True)
class FineTuneResult:
    checkpoint: Path | None  # None: the start was kept and not saved again (``save_unchanged=False``)
    before: dict  # variant → metrics on the held-out corrections (empty when there are none)
    after: dict
    iterations: int
    kept_step: int = 0  # the step whose weights were kept (the best held-out check)
    losses: list[float] = field(default_factory=list)
    checks: list[tuple[int, dict]] = field(default_factory=list)  # (step, variant → mean IU) at each check
    train_images: int = 0
    held_out_images: int = 0
    seconds: float = 0.0


def unused_checkpoint_path(folder: Path, stem: str) -> Path:
    """``folder/stem.pt``, or ``stem_2.pt``, ``stem_3.pt``… if taken: a new fine-tune never replaces an earlier one."""
    path, n = folder / f"{stem}.pt", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}_{n}.pt"
    return path


def crop_and_batch(shapes: list[tuple[int, int]], batch: int | None = None) -> tuple[int, int]:
    """The training crop's side and the batch: crops of about 80 % of the typical image's shorter side
    (32–320 px, a multiple of 8), and as many per step as keep the pixels per step constant, so a step
    costs about the same whatever the images' size."""
    short = float(np.median([min(h, w) for h, w in shapes]))
    crop = int(min(320, max(32, 8 * round(0.8 * short / 8))))
    if batch is None:
        batch = max(1, round(FINETUNE_PIXELS_PER_STEP / crop ** 2))
    return crop, batch


def _draw(items: list[tuple[np.ndarray, np.ndarray]], crop: int, size: int, rng: np.random.Generator
          ) -> list[tuple[int, int, int, bool]]:
    """``size`` random crops of random items as (item, top, left, flipped): crop×crop windows (smaller where
    the image is), flipped half the time. Every rank draws the whole global batch, so the generator stays in step."""
    draws = []
    for i in rng.integers(0, len(items), size):
        h, w = items[int(i)][1].shape
        ch, cw = min(crop, h), min(crop, w)
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        draws.append((int(i), y, x, bool(rng.random() < 0.5)))
    return draws


def _batch(items: list[tuple[np.ndarray, np.ndarray]], crop: int, draws: list[tuple[int, int, int, bool]],
           bundle: FCNBundle, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The drawn crops as a batch; padding up to crop×crop is 0 after normalisation (as conv1_1's own padding)
    and void in the labels."""
    xs, ys = [], []
    for i, top, left, flipped in draws:
        image, labels = items[i]
        labels = labels[top:top + crop, left:left + crop]
        ph, pw = crop - labels.shape[0], crop - labels.shape[1]
        x = to_input(bundle.meta.preprocessing, np.ascontiguousarray(image[top:top + crop, left:left + crop]), device)[0]
        y = torch.from_numpy(labels.astype(np.int64)).to(device)
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph))
            y = F.pad(y, (0, pw, 0, ph), value=VOID)
        if flipped:
            x, y = x.flip(-1), y.flip(-1)
        xs.append(x)
        ys.append(y)
    return canvases(xs, ys)


def canvas_layout(crops: int, crop: int) -> tuple[int, int, int]:
    """(canvases, rows, columns): ``crops`` crops of ``crop`` px split as evenly as can be into canvases of
    at most the default step's pixels (FINETUNE_CANVAS 128-px crops' worth; a step of default size is one
    canvas), all with the largest one's grid: no empty tile where one can be avoided, then rows:columns
    nearest 2:3."""
    most = max(FINETUNE_CANVAS, round(FINETUNE_PIXELS_PER_STEP / crop ** 2))
    count = math.ceil(crops / most)
    largest = math.ceil(crops / count)
    grids = [(r, math.ceil(largest / r)) for r in range(1, largest + 1)]
    rows, cols = min(grids, key=lambda g: (g[0] * g[1] - largest, abs(math.log(g[1] / g[0] / 1.5))))
    return count, rows, cols


def canvases(xs: list[torch.Tensor], ys: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Equal-sized crops (C×H×W inputs, H×W labels) tiled into the canvases of :func:`canvas_layout`, as one
    batch; unfilled tiles are 0 (the padding's value) and void.

    conv1_1's 100-px padding makes a lone 128-px crop a 328-px grid: six of them on one 256×384 canvas pay it
    once, and a step took 84 ms instead of 121 on 2 CPU cores. The demo model was trained on such mosaics,
    so a crop's neighbour at its edge is what it knows."""
    count, rows, cols = canvas_layout(len(xs), xs[0].shape[-1])
    sizes = [len(xs) // count + (i < len(xs) % count) for i in range(count)]
    blank = (torch.zeros_like(xs[0]), torch.full_like(ys[0], VOID))
    out, start = [], 0
    for size in sizes:
        items = list(zip(xs[start:start + size], ys[start:start + size])) + [blank] * (rows * cols - size)
        out.append(tile(items, cols))
        start += size
    return (torch.stack([x for x, _ in out]).contiguous(memory_format=torch.channels_last),
            torch.stack([y for _, y in out]))


def _confusions(bundle: FCNBundle, items: list[tuple[np.ndarray, np.ndarray]], device: str) -> dict[str, np.ndarray]:
    """Every head's confusion matrix on each of ``items`` (images×n×n; a copy of the weights runs, in fp32); in a
    distributed run each rank does its share and the stacks are summed, so every rank gets them all."""
    engine = Engine(copy.deepcopy(bundle).eval(), device, precision="fp32")
    n = engine.meta.n_class
    hists = {v: np.zeros((len(items), n, n), np.int64) for v in engine.variants}
    world = distributed.current()
    for i, (image, labels) in zip(range(world.rank, len(items), world.size), distributed.share(items)):
        for v, pred in engine.predict(engine.cache_for(image)).items():
            hists[v][i] = confusion_matrix(labels, pred.labels, n)
    return {v: distributed.sum_over_ranks(h) for v, h in hists.items()}


def _metrics(hists: dict[str, np.ndarray]) -> dict[str, dict]:
    return {v: scores_from_confusion(h.sum(0)) for v, h in hists.items()}


def _score(bundle: FCNBundle, items: list[tuple[np.ndarray, np.ndarray]], device: str) -> dict[str, dict]:
    """The paper's metrics of every head on ``items``, the same on every rank of a distributed run."""
    return _metrics(_confusions(bundle, items, device))


def _mean_ious(metrics: dict[str, dict]) -> dict[str, float]:
    return {v: m["mean_iu"] for v, m in metrics.items()}


def _load_items(folder: Path, data: Path, items: list[str], sources: dict[str, str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(image, labels) of exported items: the labels as exported, the pixels of the person's own image file, not
    the export's JPEG copy (a second lossy generation would teach the net JPEG's artefacts, not the images')."""
    labels_dir = VOCLayout(data).labels
    out = []
    for item in items:
        image, labels = read_image(folder / sources[item]), read_label_png(labels_dir / f"{item}.png")
        if labels.shape != image.shape[:2]:
            raise ValueError(f"{sources[item]} changed size while it was being exported; start the fine-tune again")
        out.append((image, labels))
    return out


def finetune_on_corrections(bundle: FCNBundle, source: str | Path, iterations: int = FINETUNE_ITERATIONS,
                            batch: int | None = None, lr: float = FINETUNE_LR, device: str = "auto",
                            progress: Callable[[int, int, float], None] | None = None,
                            workspace: Workspace | None = None, out: Path | None = None,
                            seed: int = 0, only_verified: bool = False, started_from: str | None = None,
                            save_unchanged: bool = True) -> FineTuneResult:
    """Export ``source``'s corrections, fine-tune a copy of ``bundle`` on them, save it beside the workspace
    (or as ``out``). The window and ``fcn-workbench finetune`` both call this: same defaults, same result.

    A fifth of the corrected images is held out: scored before, at the checks and after. Unverified pixels of
    a corrected image train as they are (the person saved them), unless ``only_verified``.
    ``started_from`` names the weights file(s) the bundle was loaded from, for the new model's lineage.
    When no held-out check beat the start, the start's weights are what the run hands back; they are saved
    all the same (a script asked for a file), unless not ``save_unchanged``: then ``checkpoint`` is None.
    ``progress(step, total, loss)`` is called after each step; raising from it stops the run and nothing is
    written but the exported data. In a distributed run ``batch`` counts each rank's crops.
    """
    if iterations < 1 or not lr > 0 or (batch is not None and batch < 1):
        raise ValueError("the steps, the batch and the learning rate must be positive")
    t0 = time.perf_counter()
    folder, ws = find_source(source)
    ws = workspace or ws
    data = ws.root / "finetune_data"
    meta = bundle.meta
    world = distributed.current()

    def export() -> tuple[Path, ExportSummary]:  # rank 0's file name and export, handed to every rank
        target = Path(out) if out is not None else \
            unused_checkpoint_path(ws.root, f"finetuned_{datetime.now().strftime('%Y%m%d_%H%M%S')}")
        return target, export_dataset(folder, data, meta.classes, meta.colors, val_fraction=0.2, overwrite=True,
                                      workspace=ws, only_verified=only_verified)

    out, summary = distributed.on_main(export)
    train_items = _load_items(folder, data, summary.train, summary.sources)
    held_out = _load_items(folder, data, summary.val, summary.sources)
    if all((labels == VOID).all() for _, labels in train_items):
        raise ValueError("the corrected images have no labelled pixels to train on"
                         + (" (only verified pixels were asked for, and none is verified)" if only_verified else ""))
    ensure_fits(sum(im.nbytes + lab.nbytes for im, lab in train_items + held_out), "the corrected images in memory")
    crop, batch = crop_and_batch([lab.shape for _, lab in train_items], batch)
    # the person's rare classes (a few thin wires, small dots) count for more than their pixels: a mean IU
    # weighs every class alike, and with a handful of images the frequent ones would drown them
    class_weights = balanced_weights((labels for _, labels in train_items), meta.n_class)

    dev = resolve_device(device)
    model = copy.deepcopy(bundle).float().to(dev, memory_format=torch.channels_last)
    class_weights = class_weights.to(dev)
    start_hists = _confusions(model, held_out, device) if held_out else {}
    before = _metrics(start_hists)
    start_ious = _mean_ious(before)
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    best_key, kept_step = sum(start_ious.values()), 0
    checks: list[tuple[int, dict]] = [(0, start_ious)] if held_out else []
    check_every = max(1, math.ceil(iterations / FINETUNE_CHECKS))

    torch.manual_seed(distributed.rank_seed(seed))
    rng = np.random.default_rng(seed)  # the crops: the same generator on every rank
    model.train()
    for module in model.modules():  # dropout would disturb a net trained without it (the demo's), and 20 images
        if isinstance(module, torch.nn.Dropout2d):
            module.p = 0.0
    net = distributed.all_heads(model, dev)  # DDP in a distributed run
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (1 - min(s, iterations - 1) / iterations) ** 0.9)
    losses: list[float] = []
    for step in range(1, iterations + 1):
        draws = _draw(train_items, crop, batch * world.size, rng)
        x, y = _batch(train_items, crop, draws[world.rank * batch:(world.rank + 1) * batch], model, dev)
        total = labelled_weight(y, class_weights)
        if total is None:  # an all-void global batch teaches nothing (and its mean loss is NaN)
            continue
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            outs = net(x)
        loss = mean_loss(outs, y, total, class_weights)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(global_loss(loss))
        if not math.isfinite(losses[-1]):
            raise FloatingPointError(f"the loss diverged at step {step}; lower the learning rate")
        if held_out and (step % check_every == 0 or step == iterations):
            hists = _confusions(model, held_out, device)
            ious = _mean_ious(_metrics(hists))
            model.train()
            checks.append((step, ious))
            key = sum(ious.values())
            if key >= best_key and not_worse(hists, start_hists):
                best_key, kept_step = key, step
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if progress:
            progress(step, iterations, losses[-1])
    if not held_out:  # nothing to choose by: the last step's weights
        best_state, kept_step = model.state_dict(), iterations
    model.load_state_dict(best_state)
    result_bundle = model.eval().cpu()
    after = _score(result_bundle, held_out, "cpu" if dev.type == "cpu" else device) if held_out else {}
    crops = f"{batch} crops" if world.size == 1 else \
        f"{batch} crops per process × {world.size} processes = {batch * world.size} crops"
    count, rows, cols = canvas_layout(batch, crop)
    crops += f" of {crop} px per step, tiled {rows}×{cols} on {count} canvas{'es' if count > 1 else ''}"
    recipe = (f"fine-tune: {iterations} steps, {crops}{' per process' if world.size > 1 else ''}, all heads jointly, class-balanced loss, adam lr {lr:g} "
              f"with poly decay, seed {seed}, " + ("verified pixels only, " if only_verified else "")
              + (f"kept step {kept_step} (the best of {len(checks)} held-out checks with no head worse)"
                 if held_out else "no held-out images: the last step kept"))
    result_bundle.meta = replace(meta, provenance=Provenance(
        trained_on=f"corrections in {folder.name} ({len(train_items)} images, {len(held_out)} held out)",
        date=datetime.now(timezone.utc).strftime("%Y-%m-%d"), recipe=recipe,
        initialised_from=meta.provenance.origin(started_from or meta.source),
        metrics=after, metrics_split="held-out corrections" if after else ""))
    if held_out and kept_step == 0 and not save_unchanged:
        out = None  # the window: a copy of the weights it already has would only be a file to wonder about
    elif world.main:
        save_checkpoint(result_bundle, out)
    return FineTuneResult(out, before, after, iterations, kept_step, losses, checks, len(train_items),
                          len(held_out), time.perf_counter() - t0)
