"""What a training run depends on, and what it reports after each step (plain data, no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model.metadata import VARIANTS


# The fine-tune's defaults, in the window and in `fcn-workbench finetune` alike (scripts/bench_finetune.py chose them)
FINETUNE_ITERATIONS = 2400  # steps (about 3.5 minutes for 20 small corrected images on 2 CPU cores)
FINETUNE_LR = 1e-3  # Adam's learning rate, with the poly decay
FINETUNE_PIXELS_PER_STEP = 6 * 128 * 128  # crops per step × their area: six 128-px crops of 160-px scenes
FINETUNE_CANVAS = 6  # 128-px crops' worth of pixels tiled into one training sample (2 rows × 3): conv1_1's padding paid once
FINETUNE_CHECKS = 8  # times the held-out corrections are scored during a run (the best check is kept)
FINETUNE_GUARD_RESAMPLES = 400  # bootstrap resamples of the held-out images a check is judged on (training.guard)
FINETUNE_GUARD_SHARE = 0.7  # the share of them in which no head may be worse than at the start


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved in the checkpoint, so a run can resume)."""

    data: str
    out: str
    split: str = "train"
    val_split: str | None = "val"
    init: str | None = None
    variants: tuple[str, ...] = VARIANTS
    mode: str = "joint"  # joint: all heads on one shared backbone; staged: 32s, then 16s from it, then 8s
    width: float = 0.125
    device: str = "auto"
    iterations: int = 2000  # per stage in staged mode
    batch: int = 8
    crop: int = 160
    optimizer: str = "adam"  # adam, or sgd (the paper's: momentum 0.99, weight decay 5e-4)
    lr: float = 1e-3
    momentum: float = 0.99
    weight_decay: float = 5e-4
    seed: int = 0
    checkpoint_every: int = 250
    class_weights: str = "none"  # none, or balanced: sqrt of median-frequency balancing (helps thin, rare classes)
    scale_jitter: bool = True  # random rescaling 0.8–1.25; off keeps the pixel scale (a last, fine-edged stage)
    dropout: float = 0.5  # fc6/fc7 channel dropout while training (the paper's 0.5; 0 for a narrow net that underfits)
    mosaic: int = 1  # tiles per side of each training sample (2: four crops in one, sharing conv1_1's padding)

    def __post_init__(self) -> None:
        self.variants = tuple(v for v in VARIANTS if v in self.variants)
        if not self.variants:
            raise ValueError("choose at least one of the variants 32s, 16s, 8s")
        if self.mode not in ("joint", "staged"):
            raise ValueError(f"mode must be joint or staged, not {self.mode!r}")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be adam or sgd, not {self.optimizer!r}")
        if self.class_weights not in ("none", "balanced"):
            raise ValueError(f"class weights must be none or balanced, not {self.class_weights!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), not {self.dropout}")
        if not 1 <= self.mosaic <= 4:
            raise ValueError(f"mosaic must be 1 to 4 tiles per side, not {self.mosaic}")
        if self.iterations < 1 or self.batch < 1 or self.crop < 8:
            raise ValueError("iterations and batch must be positive, crop at least 8")
        if not 0 < self.lr < float("inf"):
            raise ValueError(f"the learning rate must be a positive number, not {self.lr}")


@dataclass(frozen=True)
class TrainProgress:
    """One step of training (or the final evaluation)."""

    stage: str
    step: int
    total: int
    loss: float
    images_per_s: float
    done: bool = False
    metrics: dict = field(default_factory=dict)
