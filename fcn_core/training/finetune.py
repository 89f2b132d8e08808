"""Fine-tuning the loaded model on a person's corrections: export, measure, train, measure again."""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Callable

from ..inference.engine import Engine
from ..model.bundle import FCNBundle
from ..storage.export import export_dataset, find_source
from ..storage.workspace import Workspace
from .config import FINETUNE_ITERATIONS, TrainConfig
from .evaluation import evaluate
from .trainer import Trainer


@dataclass(frozen=True)
class FineTuneResult:
    checkpoint: Path
    before: dict  # variant → metrics on the held-out split (empty when there is none)
    after: dict
    iterations: int


def unused_checkpoint_path(folder: Path, stem: str) -> Path:
    """``folder/stem.pt``, or ``stem_2.pt``, ``stem_3.pt``… if taken: a new fine-tune never replaces an earlier one."""
    path, n = folder / f"{stem}.pt", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}_{n}.pt"
    return path


def finetune_on_corrections(bundle: FCNBundle, source: str | Path, iterations: int = FINETUNE_ITERATIONS,
                            batch: int = 2, crop: int = 128, lr: float = 1e-4, device: str = "auto",
                            progress: Callable[[int, int, float], None] | None = None,
                            workspace: Workspace | None = None, out: Path | None = None,
                            seed: int = 0) -> FineTuneResult:
    """Export ``source``'s corrections, fine-tune a copy of ``bundle`` on them, save it beside the workspace
    (or as ``out``). The window and ``fcn-workbench finetune`` both call this: same defaults, same result.

    ``progress(step, total, loss)`` is called after each step; raising from it stops the run (the
    files already written are complete: every write is atomic).
    """
    folder, ws = find_source(source)
    ws = workspace or ws
    data = ws.root / "finetune_data"
    meta = bundle.meta
    out = Path(out) if out is not None else \
        unused_checkpoint_path(ws.root, f"finetuned_{datetime.now().strftime('%Y%m%d_%H%M%S')}")
    # the settings are checked before anything is written
    cfg = TrainConfig(data=str(data), out=str(out), iterations=iterations, batch=batch, crop=crop, lr=lr,
                      device=device, checkpoint_every=max(10, iterations // 4), width=meta.width, seed=seed,
                      dropout=0.0)  # dropout would disturb a net trained without it (the demo's)
    summary = export_dataset(folder, data, meta.classes, meta.colors, val_fraction=0.2, overwrite=True, workspace=ws)
    has_val = bool(summary.val)
    cfg = replace(cfg, val_split="val" if has_val else None)
    model = copy.deepcopy(bundle).float().cpu()
    before = evaluate(Engine(copy.deepcopy(model), device, precision="fp32"), data, "val") if has_val else {}
    trainer = Trainer(cfg, initial=model)
    after: dict = {}
    for p in trainer.run():
        if p.done:
            after = p.metrics
        elif progress:
            progress(p.step, p.total, p.loss)
    return FineTuneResult(out, before, after, iterations)
