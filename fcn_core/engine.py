"""The inference engine: runs a bundle on images and caches what it computed.

An :class:`Analysis` is one image's cache. Each distinct backbone runs at most once per analysis;
switching variant or asking for score maps reuses the cached features. The engine runs the net in
its fast equivalent form (:mod:`fcn_core.fast_forward`): channels_last, the transposed convolutions
as convolutions, fc6 as a matrix product on the CPU, half precision on CUDA. Images above a pixel
budget run in tiles whose labels match the untiled result; on CUDA an out-of-memory error falls
back to smaller tiles and then to the CPU, with a notice.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from .architecture import STEP_STRIDE, BackboneFeatures
from .bundle import FCNBundle
from .compile_cache import CompiledFeatures
from .device import inference_dtype, resolve_device
from .fast_forward import FastForward
from .metadata import ModelMeta
from .results import Prediction, ScoreMap, SkipFusion
from .tiling import DEFAULT_MARGIN, plan_tiles

# Images with more pixels than this run in tiles (CPU: bounded memory; CUDA: below the 2³¹-element
# limit of some convolution kernels for conv1's output, and out-of-memory errors switch to tiles).
CPU_MAX_PIXELS = 2048 * 2048
CUDA_MAX_PIXELS = 4096 * 4096
CPU_TILE = 1024
MIN_TILE = 256


@dataclass(eq=False)
class Analysis:
    """The cache of one image: backbone features and per-variant results."""

    image: np.ndarray  # H×W×3 uint8 RGB
    features: dict[str, BackboneFeatures] = field(default_factory=dict)
    predictions: dict[str, Prediction] = field(default_factory=dict)
    fusions: dict[str, SkipFusion] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.image.shape[0]), int(self.image.shape[1])

    def release_features(self) -> None:
        """Free the backbone features (device memory); predictions stay."""
        self.features.clear()


def _labels(scores: torch.Tensor) -> torch.Tensor:
    """N×C×H×W (or C×H×W) scores → uint8 labels (argmax over classes)."""
    return scores.argmax(-3).to(torch.uint8)


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.float().cpu().contiguous().numpy() if t.dtype != torch.uint8 else t.cpu().contiguous().numpy()


class Engine:
    """Runs an :class:`FCNBundle` on RGB uint8 images, on the CPU (fp32) or CUDA (fp16, channels_last).

    The engine converts ``bundle`` in place (device, dtype, memory format); pass a copy to keep the
    original. ``max_pixels`` is the largest image run in one piece (default: 4 MP on the CPU, 16 MP on
    CUDA, where an out-of-memory error also switches to tiles). Tiled predictions keep their scores in
    float16 (an 8000×8000 image's scores would otherwise take 1.8 GB per variant for 7 classes). ``compile=True`` compiles the backbones with
    torch.compile on a background thread (cached on disk) and uses them once ready.
    """

    def __init__(self, bundle: FCNBundle, device: str = "auto", precision: str = "auto",
                 max_pixels: int | None = None, tile: int | None = None, compile: bool = False) -> None:
        self.device = resolve_device(device)
        self.dtype = {"auto": inference_dtype(self.device), "fp32": torch.float32, "fp16": torch.float16,
                      "bf16": torch.bfloat16}[precision]
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        # the CPU fallback after out-of-memory errors needs the fp32 weights, not their fp16 copy
        self._cpu_state = ({k: v.detach().float().cpu().clone() for k, v in bundle.state_dict().items()}
                           if self.device.type != "cpu" else None)
        self.bundle = bundle.eval().to(self.device, dtype=self.dtype, memory_format=torch.channels_last)
        self.fast = FastForward(self.bundle)
        self.max_pixels = max_pixels if max_pixels is not None else (CPU_MAX_PIXELS if self.device.type == "cpu" else CUDA_MAX_PIXELS)
        self.tile = tile or CPU_TILE
        self.backbone_passes = 0
        self.notices: list[str] = []
        self.on_notice: Callable[[str], None] | None = None
        self.cpu_fallback = self.device.type != "cpu"
        self._cpu_twin: Engine | None = None
        self._tile_after_oom: int | None = None
        self._lock = threading.RLock()
        self.compiled = (CompiledFeatures(self.fast.features, list(self.bundle.backbones),
                                          example=lambda hw: self._input(np.zeros((*hw, 3), np.uint8)))
                         if compile else None)

    @property
    def meta(self) -> ModelMeta:
        return self.bundle.meta

    @property
    def variants(self) -> tuple[str, ...]:
        return self.meta.variant_names

    def analyze(self, image: np.ndarray) -> Analysis:
        """Start an analysis of an H×W×3 uint8 RGB image (nothing runs yet)."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an H×W×3 uint8 RGB image, got {image.dtype} {image.shape}")
        return Analysis(np.ascontiguousarray(image))

    def _notice(self, text: str) -> None:
        self.notices.append(text)
        if self.on_notice is not None:
            self.on_notice(text)

    # -- running the net ---------------------------------------------------------------------------
    def _input(self, images: np.ndarray) -> torch.Tensor:
        """RGB uint8 (N×)H×W×3 → normalised channels_last batch on the device (pinned, async on CUDA)."""
        t = torch.from_numpy(np.ascontiguousarray(images))
        if self.device.type == "cuda":
            t = t.pin_memory()
        x = self.meta.preprocessing.to_tensor(t, self.device, self.dtype)
        return x.contiguous(memory_format=torch.channels_last)

    def _run_features(self, backbone: str, x: torch.Tensor) -> BackboneFeatures:
        self.backbone_passes += 1
        if self.compiled is not None:
            fn = self.compiled.ready(backbone)
            if fn is not None:
                try:
                    return fn(x)
                except torch.OutOfMemoryError:
                    raise
                except Exception as e:  # a recompile for a new shape failed: the eager form from now on
                    self.compiled.error = f"torch.compile failed, the eager engine stays in use: {e}"
                    self._notice(self.compiled.error)
        return self.fast.features(backbone, x)

    def _features(self, analysis: Analysis, variant: str) -> BackboneFeatures:
        backbone = self.bundle.backbone_of(variant)
        if backbone not in analysis.features:
            analysis.features[backbone] = self._run_features(backbone, self._input(analysis.image))
        return analysis.features[backbone]

    def _final(self, variant: str, feats: BackboneFeatures) -> torch.Tensor:
        return self.bundle.heads[variant](feats, self.fast.upsampler(variant))

    def _whole(self, analysis: Analysis, variant: str) -> Prediction:
        scores = self._final(variant, self._features(analysis, variant))[0]
        return Prediction(variant, _to_numpy(_labels(scores)), _to_numpy(scores))

    def _tiled(self, analysis: Analysis, variants: Sequence[str], core: int) -> dict[str, Prediction]:
        """Every variant in ``variants`` by tiles: each backbone runs once per tile."""
        h, w = analysis.size
        n = self.meta.n_class
        scores = {v: np.empty((n, h, w), np.float16) for v in variants}
        labels = {v: np.empty((h, w), np.uint8) for v in variants}
        for tile in plan_tiles(h, w, core, DEFAULT_MARGIN):
            wy0, wy1, wx0, wx1 = tile.window
            y0, y1, x0, x1 = tile.core
            x = self._input(analysis.image[wy0:wy1, wx0:wx1])
            feats: dict[str, BackboneFeatures] = {}
            ys, xs = tile.core_in_window()
            for v in variants:
                backbone = self.bundle.backbone_of(v)
                if backbone not in feats:
                    feats[backbone] = self._run_features(backbone, x)
                s = self._final(v, feats[backbone])[0, :, ys, xs]
                scores[v][:, y0:y1, x0:x1] = s.to(torch.float16).cpu().numpy()
                labels[v][y0:y1, x0:x1] = _to_numpy(_labels(s))
            del feats, x
        return {v: Prediction(v, labels[v], scores[v]) for v in variants}

    def _compute(self, analysis: Analysis, variants: Sequence[str]) -> dict[str, Prediction]:
        """Whole image within the pixel budget, tiles above it; on OOM smaller tiles, then the CPU."""
        h, w = analysis.size
        tile = None if h * w <= self.max_pixels else min(self.tile, self._tile_after_oom or self.tile)
        while True:
            try:
                if tile is None:
                    return {v: self._whole(analysis, v) for v in variants}
                return self._tiled(analysis, variants, tile)
            except torch.OutOfMemoryError:
                pass  # leave the except block first: its traceback holds the failed attempt's tensors
            analysis.release_features()
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            nxt = min(self.tile, max(h, w) // 2) if tile is None else tile // 2
            if nxt < MIN_TILE:
                break
            self._notice(f"Out of {self.device.type.upper()} memory on a {w}×{h} image: "
                         f"running it in tiles of {nxt}×{nxt}.")
            tile = self._tile_after_oom = nxt  # later images start from the size that fits
        if not self.cpu_fallback:
            raise torch.OutOfMemoryError(f"out of memory on a {w}×{h} image, even in tiles of {MIN_TILE}×{MIN_TILE}")
        self._notice(f"Out of {self.device.type.upper()} memory on a {w}×{h} image even in tiles: "
                     "running it on the CPU.")
        return self._cpu().predict_many_variants(analysis.image, variants)

    def _cpu(self) -> "Engine":
        """An fp32 CPU engine with the same weights (built once, from the weights as loaded)."""
        if self._cpu_twin is None:
            twin = FCNBundle(self.meta)
            twin.load_state_dict(self._cpu_state if self._cpu_state is not None else
                                 {k: v.float().cpu() for k, v in self.bundle.state_dict().items()})
            self._cpu_twin = Engine(twin, "cpu", precision="fp32")
        return self._cpu_twin

    def predict_many_variants(self, image: np.ndarray, variants: Sequence[str]) -> dict[str, Prediction]:
        """Several variants of one image in one go (no cache kept)."""
        analysis = self.analyze(image)
        with self._lock, torch.inference_mode():
            return self._compute(analysis, variants)

    # -- public API -------------------------------------------------------------------------------
    def predict(self, analysis: Analysis, variant: str) -> Prediction:
        """Labels and scores of one variant (cached per analysis); confidence and entropy on first use."""
        return self._ensure(analysis, [variant])[variant]

    def predict_all(self, analysis: Analysis) -> dict[str, Prediction]:
        """Every variant of the bundle, each backbone run once (once per tile for large images)."""
        return self._ensure(analysis, list(self.variants))

    def _ensure(self, analysis: Analysis, variants: list[str]) -> dict[str, Prediction]:
        for v in variants:
            self.meta.variant(v)
        with self._lock, torch.inference_mode():
            missing = [v for v in variants if v not in analysis.predictions]
            if missing:
                analysis.predictions.update(self._compute(analysis, missing))
            return {v: analysis.predictions[v] for v in variants}

    def predict_batch(self, images: Sequence[np.ndarray], variants: Sequence[str] | None = None) -> list[dict[str, Prediction]]:
        """Same-sized images as one batch: each backbone runs once for all of them (no cache kept)."""
        if not images:
            return []
        variants = list(variants or self.variants)
        for v in variants:
            self.meta.variant(v)
        for im in images:
            if im.ndim != 3 or im.shape[2] != 3 or im.dtype != np.uint8:
                raise ValueError(f"expected H×W×3 uint8 RGB images, got {im.dtype} {im.shape}")
        shapes = {im.shape for im in images}
        h, w = images[0].shape[:2]
        if len(shapes) != 1 or images[0].ndim != 3 or images[0].shape[2] != 3 or h * w * len(images) > self.max_pixels:
            return [self.predict_many_variants(im, variants) for im in images]
        with self._lock, torch.inference_mode():
            try:
                x = self._input(np.stack(images))
                feats: dict[str, BackboneFeatures] = {}
                out: list[dict[str, Prediction]] = [{} for _ in images]
                for v in variants:
                    bb = self.bundle.backbone_of(v)
                    if bb not in feats:
                        feats[bb] = self._run_features(bb, x)
                    scores = self._final(v, feats[bb])
                    labels = _to_numpy(_labels(scores))
                    s = _to_numpy(scores)
                    for i in range(len(images)):
                        out[i][v] = Prediction(v, labels[i], s[i])
                return out
            except torch.OutOfMemoryError:
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
        return [self.predict_many_variants(im, variants) for im in images]

    def fusion(self, analysis: Analysis, variant: str) -> SkipFusion:
        """The skip-fusion steps and per-source contributions of one variant (cached)."""
        self.meta.variant(variant)
        h, w = analysis.size
        if h * w > self.max_pixels:
            raise ValueError(f"the skip-fusion view needs an image of at most {self.max_pixels:,} pixels; "
                             f"this one has {h * w:,}")
        with self._lock, torch.inference_mode():
            if variant not in analysis.fusions:
                head = self.bundle.heads[variant]
                feats = self._features(analysis, variant)
                up = self.fast.upsampler(variant)
                steps = {name: ScoreMap(name, STEP_STRIDE[name], _to_numpy(t[0]))
                         for name, t in head.fusion(feats, up).items()}
                contrib = {name: _to_numpy(t[0]) for name, t in head.contributions(feats, up).items()}
                analysis.fusions[variant] = SkipFusion(variant, steps, contrib)
            return analysis.fusions[variant]

    def segment(self, image: np.ndarray, variant: str | None = None) -> Prediction:
        """One-shot prediction of one variant (default: the finest)."""
        return self.predict(self.analyze(image), variant or self.variants[-1])
