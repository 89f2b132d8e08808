"""The inference engine: runs a bundle on images and caches, per image, what it computed.

An :class:`ImageCache` holds one image's backbone features and results: each distinct backbone runs at
most once per cache, so switching variant or asking for score maps reuses the features. The engine runs
the net in its fast equivalent form (:mod:`fcn_core.inference.fast_forward`): channels_last, the
transposed convolutions as convolutions, Winograd forms and prepacked weights on the CPU, half precision on CUDA.
Images above a pixel budget run in tiles whose labels match the untiled result; on CUDA an
out-of-memory error falls back to smaller tiles and then to the CPU, with a notice
(:mod:`fcn_core.inference.tiling`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from ..model.architecture import STEP_STRIDE, BackboneFeatures
from ..model.bundle import FCNBundle
from ..model.metadata import ModelMeta
from ..model.normalize import to_input
from .compile_cache import CompiledFeatures
from .cuda_graphs import GraphedForward
from .device import inference_dtype, resolve_device
from .fast_forward import FastForward
from .results import Prediction, ScoreMap, SkipFusion
from ..memory import ensure_fits
from .tiling import DEFAULT_MARGIN, DEFAULT_TILE, MIN_TILE, pixel_budget, plan_tiles, smaller_tile

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass(eq=False)
class ImageCache:
    """What the engine computed for one image: backbone features and per-variant results."""

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


Progress = Callable[[int, int], None]


def _check_image(image: np.ndarray) -> None:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an H×W×3 uint8 RGB image, got {image.dtype} {image.shape}")


def _labels(scores: torch.Tensor) -> torch.Tensor:
    """N×C×H×W (or C×H×W) scores → uint8 labels (argmax over classes, the first of equal maxima).

    ``max``, not ``argmax``: on an NCHW CPU tensor torch's argmax over channels took 40 ms for the demo
    model's 7×500×500 scores, max's indices 0.7 (argmax is fast only on channels_last)."""
    return scores.max(-3).indices.to(torch.uint8)


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.float().cpu().contiguous().numpy() if t.dtype != torch.uint8 else t.cpu().contiguous().numpy()


def _later(t: torch.Tensor) -> np.ndarray | Callable[[], np.ndarray]:
    """The scores as numpy: now on the CPU (where the window reads them soon anyway, and a lazy copy
    could land on the GUI thread), when first read on a device (see :class:`Prediction`)."""
    return _to_numpy(t) if t.device.type == "cpu" else (lambda: _to_numpy(t))


class Engine:
    """Runs an :class:`FCNBundle` on RGB uint8 images, on the CPU (fp32) or CUDA (fp16, channels_last).

    Two ways in: :meth:`predict` on an :class:`ImageCache` (from :meth:`cache_for`) keeps what it computed,
    for a window that switches variants and views; :meth:`predict_batch` runs same-sized images together
    and keeps nothing, for folders. :meth:`segment` is one image, one variant.

    The engine converts ``bundle`` in place (device, dtype, memory format); pass a copy to keep the
    original. ``max_pixels`` is the largest image run in one piece (default: 4 MP on the CPU, 16 MP on
    CUDA, where an out-of-memory error also switches to tiles). Tiled predictions keep their scores in
    float16 (an 8000×8000 image's scores would otherwise take 1.8 GB per variant for 7 classes).
    ``compile=True`` compiles the backbones with torch.compile on a background thread (cached on disk)
    and uses them once ready. Process-wide settings (cuDNN autotuning, the allocator) are the entry
    point's to make: :func:`fcn_core.inference.device.tune_process`.
    """

    def __init__(self, bundle: FCNBundle, device: str = "auto", precision: str = "auto",
                 max_pixels: int | None = None, tile: int | None = None, compile: bool = False) -> None:
        self.device = resolve_device(device)
        if precision != "auto" and precision not in PRECISIONS:
            raise ValueError(f"precision must be auto, {', '.join(PRECISIONS)}, not {precision!r}")
        self.dtype = inference_dtype(self.device) if precision == "auto" else PRECISIONS[precision]
        # the CPU fallback after out-of-memory errors needs the fp32 weights, not their fp16 copy
        self._fp32_state = ({k: v.detach().float().cpu().clone() for k, v in bundle.state_dict().items()}
                            if self.device.type != "cpu" else None)
        self.bundle = bundle.eval().to(self.device, dtype=self.dtype, memory_format=torch.channels_last)
        self.fast_form = FastForward(self.bundle)
        self.max_pixels = max_pixels if max_pixels is not None else pixel_budget(self.device.type)
        self.tile = tile or DEFAULT_TILE
        self.backbone_passes = 0
        self.notices: list[str] = []
        self.on_notice: Callable[[str], None] | None = None
        self.cpu_fallback = self.device.type != "cpu"
        self._cpu_engine: Engine | None = None
        self._tile_after_oom: int | None = None
        self._lock = threading.RLock()
        # whole forward passes replayed as CUDA graphs for repeated shapes (not with torch.compile's
        # own graphs); tests put a CPU stand-in here
        self.graphs = GraphedForward(self._graph_forward) if self.device.type == "cuda" and not compile else None
        self.compiled = (CompiledFeatures(self.fast_form.features, list(self.bundle.backbones),
                                          example=lambda hw: self._input(np.zeros((*hw, 3), np.uint8)))
                         if compile else None)

    @property
    def meta(self) -> ModelMeta:
        return self.bundle.meta

    @property
    def variants(self) -> tuple[str, ...]:
        return self.meta.variant_names

    def cache_for(self, image: np.ndarray) -> ImageCache:
        """An empty cache for an H×W×3 uint8 RGB image (nothing runs until :meth:`predict` or :meth:`fusion`)."""
        _check_image(image)
        return ImageCache(np.ascontiguousarray(image))

    def _notice(self, text: str) -> None:
        self.notices.append(text)
        if self.on_notice is not None:
            self.on_notice(text)

    def _check_variants(self, variants: Sequence[str] | None) -> list[str]:
        variants = list(self.variants if variants is None else variants)
        for v in variants:
            self.meta.variant(v)  # KeyError naming the variants the model has
        return variants

    # -- running the net ---------------------------------------------------------------------------
    def _input(self, images: np.ndarray) -> torch.Tensor:
        """RGB uint8 (N×)H×W×3 → normalised channels_last batch on the device (pinned, async on CUDA)."""
        t = torch.from_numpy(np.ascontiguousarray(images))
        if self.device.type == "cuda":
            t = t.pin_memory()
        return to_input(self.meta.preprocessing, t, self.device, self.dtype).contiguous(memory_format=torch.channels_last)

    def _run_backbone(self, backbone: str, x: torch.Tensor) -> BackboneFeatures:
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
        return self.fast_form.features(backbone, x)

    def _cached_features(self, cache: ImageCache, backbone: str) -> BackboneFeatures:
        if backbone not in cache.features:
            cache.features[backbone] = self._run_backbone(backbone, self._input(cache.image))
        return cache.features[backbone]

    def _scores(self, variants: Sequence[str], features: Callable[[str], BackboneFeatures]
                ) -> Iterator[tuple[str, torch.Tensor]]:
        """Final N×C×H×W scores of each variant in turn (one on the device at a time), each backbone's
        ``features`` taken once."""
        for v, f in self.bundle.with_features(variants, features):
            yield v, self.bundle.heads[v](f, self.fast_form.upsampler(v))

    def _graph_forward(self, x: torch.Tensor, variants: tuple[str, ...]) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Labels and scores of ``variants`` on a batch, every step on the device (what a graph captures)."""
        return {v: (_labels(s), s) for v, s in self._scores(variants, lambda b: self.fast_form.features(b, x))}

    def _replayed(self, x: torch.Tensor, variants: Sequence[str]) -> dict[str, tuple[torch.Tensor, torch.Tensor]] | None:
        """The outputs from a CUDA graph when this shape has one (or gets one now), else None."""
        out = self.graphs(x, tuple(variants)) if self.graphs is not None else None
        if out is not None:
            self.backbone_passes += len({self.bundle.backbone_of(v) for v in variants})
        elif self.graphs is not None and self.graphs.error and self.graphs.error not in self.notices:
            self._notice(self.graphs.error)
        return out

    def _whole(self, cache: ImageCache, variants: Sequence[str]) -> dict[str, Prediction]:
        if self.graphs is not None and not cache.features:
            out = self._replayed(self._input(cache.image), variants)
            if out is not None:
                return {v: Prediction(v, _to_numpy(labels[0]), _later(s[0])) for v, (labels, s) in out.items()}
        return {v: Prediction(v, _to_numpy(_labels(s[0])), _later(s[0]))
                for v, s in self._scores(variants, lambda b: self._cached_features(cache, b))}

    def _tiled(self, image: np.ndarray, variants: Sequence[str], core: int,
               progress: Progress | None = None) -> dict[str, Prediction]:
        """Every variant in ``variants`` by tiles: each backbone runs once per tile; ``progress(done, total)``
        after each tile (raising from it stops the run)."""
        h, w = image.shape[:2]
        n = self.meta.n_class
        scores = {v: np.empty((n, h, w), np.float16) for v in variants}
        labels = {v: np.empty((h, w), np.uint8) for v in variants}
        tiles = plan_tiles(h, w, core, DEFAULT_MARGIN)
        if progress is not None:
            progress(0, len(tiles))
        for i, tile in enumerate(tiles):
            wy0, wy1, wx0, wx1 = tile.window
            y0, y1, x0, x1 = tile.core
            ys, xs = tile.core_in_window()
            x = self._input(image[wy0:wy1, wx0:wx1])
            for v, s in self._scores(variants, lambda b: self._run_backbone(b, x)):
                s = s[0, :, ys, xs]
                scores[v][:, y0:y1, x0:x1] = s.to(torch.float16).cpu().numpy()
                labels[v][y0:y1, x0:x1] = _to_numpy(_labels(s))
            del x
            if progress is not None:
                progress(i + 1, len(tiles))
        return {v: Prediction(v, labels[v], scores[v]) for v in variants}

    def _compute(self, cache: ImageCache, variants: Sequence[str], progress: Progress | None = None
                 ) -> dict[str, Prediction]:
        """Whole image within the pixel budget, tiles above it; on OOM smaller tiles, then the CPU."""
        h, w = cache.size
        tile = None if h * w <= self.max_pixels else min(self.tile, self._tile_after_oom or self.tile)
        # the answers kept for the whole image: scores (float32 whole, float16 tiled) and labels per variant;
        # the confidence and entropy maps come later, on first use, and are budgeted there
        per_variant = h * w * (self.meta.n_class * (4 if tile is None else 2) + 1)
        ensure_fits(per_variant * len(variants), f"a {w}×{h} image's scores ({len(variants)} variant"
                    f"{'s' if len(variants) > 1 else ''} × {self.meta.n_class} classes)")
        while True:
            try:
                return self._whole(cache, variants) if tile is None else self._tiled(cache.image, variants, tile, progress)
            except torch.OutOfMemoryError:
                pass  # leave the except block first: its traceback holds the failed attempt's tensors
            cache.release_features()
            if self.graphs is not None:
                self.graphs.clear()  # their activation memory first
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            tile = smaller_tile(tile, h, w, self.tile)
            if tile is None:
                break
            self._notice(f"Out of {self.device.type.upper()} memory on a {w}×{h} image: "
                         f"running it in tiles of {tile}×{tile}.")
            self._tile_after_oom = tile  # later images start from the size that fits
        if not self.cpu_fallback:
            raise torch.OutOfMemoryError(f"out of memory on a {w}×{h} image, even in tiles of {MIN_TILE}×{MIN_TILE}")
        self._notice(f"Out of {self.device.type.upper()} memory on a {w}×{h} image even in tiles: "
                     "running it on the CPU.")
        return self._on_cpu().predict_batch([cache.image], variants)[0]

    def _on_cpu(self) -> "Engine":
        """An fp32 CPU engine with the same weights (built once, from the weights as loaded)."""
        if self._cpu_engine is None:
            twin = FCNBundle(self.meta)
            twin.load_state_dict(self._fp32_state if self._fp32_state is not None else
                                 {k: v.float().cpu() for k, v in self.bundle.state_dict().items()})
            self._cpu_engine = Engine(twin, "cpu", precision="fp32")
        return self._cpu_engine

    # -- public API -------------------------------------------------------------------------------
    def predict(self, cache: ImageCache, variants: Sequence[str] | None = None,
                progress: Progress | None = None) -> dict[str, Prediction]:
        """Labels and scores of ``variants`` (default: all) on a cached image, computing only what is missing;
        each backbone runs once (once per tile for large images). Confidence and entropy come on first use.
        ``progress(done, total)`` reports tiles on images run in tiles (raising from it stops the run)."""
        variants = self._check_variants(variants)
        with self._lock, torch.inference_mode():
            missing = [v for v in variants if v not in cache.predictions]
            if missing:
                cache.predictions.update(self._compute(cache, missing, progress))
            return {v: cache.predictions[v] for v in variants}

    def predict_batch(self, images: Sequence[np.ndarray], variants: Sequence[str] | None = None) -> list[dict[str, Prediction]]:
        """``variants`` (default: all) of each image, nothing cached: same-sized images within the pixel budget
        run as one batch (each backbone once for all), others one by one."""
        variants = self._check_variants(variants)
        for im in images:
            _check_image(im)
        if not images:
            return []
        h, w = images[0].shape[:2]
        with self._lock, torch.inference_mode():
            if len({im.shape for im in images}) == 1 and h * w * len(images) <= self.max_pixels:
                try:
                    x = self._input(np.stack(images))
                    out: list[dict[str, Prediction]] = [{} for _ in images]
                    replayed = self._replayed(x, variants)
                    if replayed is not None:
                        for v, (labels_t, s) in replayed.items():
                            labels = _to_numpy(labels_t)
                            for i in range(len(images)):
                                out[i][v] = Prediction(v, labels[i], _later(s[i]))
                        return out
                    scores = self._scores(variants, lambda b: self._run_backbone(b, x))
                    for v, s in scores:
                        labels = _to_numpy(_labels(s))
                        for i in range(len(images)):
                            out[i][v] = Prediction(v, labels[i], _later(s[i]))
                    return out
                except torch.OutOfMemoryError:
                    pass  # one by one below, each with the out-of-memory policy
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
            return [self._compute(ImageCache(np.ascontiguousarray(im)), variants) for im in images]

    def fusion_refusal(self, size: tuple[int, int], name: str = "this one") -> str | None:
        """Why :meth:`fusion` refuses an image of ``size`` (height, width), or None: its maps are kept whole."""
        h, w = size
        if h * w <= self.max_pixels:
            return None
        return f"the skip-fusion view needs an image of at most {self.max_pixels:,} pixels; {name} has {h * w:,}"

    def fusion(self, cache: ImageCache, variant: str) -> SkipFusion:
        """The skip-fusion steps and per-source contributions of one variant (cached)."""
        self._check_variants([variant])
        problem = self.fusion_refusal(cache.size)
        if problem is not None:
            raise ValueError(problem)
        with self._lock, torch.inference_mode():
            if variant not in cache.fusions:
                head = self.bundle.heads[variant]
                feats = self._cached_features(cache, self.bundle.backbone_of(variant))
                up = self.fast_form.upsampler(variant)
                steps = {name: ScoreMap(name, STEP_STRIDE[name], _to_numpy(t[0]))
                         for name, t in head.fusion(feats, up).items()}
                contrib = {name: _to_numpy(t[0]) for name, t in head.contributions(feats, up).items()}
                cache.fusions[variant] = SkipFusion(variant, steps, contrib)
            return cache.fusions[variant]

    def segment(self, image: np.ndarray, variant: str | None = None) -> Prediction:
        """One image, one variant (default: the finest), nothing kept."""
        variant = variant or self.variants[-1]
        return self.predict(self.cache_for(image), [variant])[variant]
