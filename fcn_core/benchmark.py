"""Timing the engine against the reference path (plain eager fp32 NCHW module) in one run."""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch

from .bundle import FCNBundle
from .engine import Engine


@dataclass(frozen=True)
class BenchResult:
    """Median milliseconds of each path on the same weights and image, and how well their labels agree."""

    device: str
    size: tuple[int, int]
    variant: str
    reference_ms: float
    engine_ms: float
    speedup: float
    label_agreement: float
    all_variants_ms: float
    switch_from_cache_ms: float
    iters: int

    def to_dict(self) -> dict:
        return asdict(self)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(fn: Callable[[], object], iters: int, device: torch.device, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def reference_labels(bundle: FCNBundle, image: np.ndarray, variant: str, device: torch.device) -> np.ndarray:
    """The way the public ports run it: eager fp32, NCHW, one variant, argmax on the device."""
    x = bundle.meta.preprocessing.to_tensor(image, device)
    with torch.no_grad():
        return bundle(x, variant)[0].argmax(0).cpu().numpy().astype(np.uint8)


def run_benchmark(make_bundle: Callable[[], FCNBundle], size: tuple[int, int] = (500, 500), device: str = "cpu",
                  iters: int = 10, seed: int = 0) -> BenchResult:
    """Reference vs engine on one random uint8 image: labels of the finest variant, then all variants."""
    image = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    engine = Engine(make_bundle(), device)
    variant = engine.variants[-1]
    reference = make_bundle().eval().float().to(engine.device)
    ref_ms = median_ms(lambda: reference_labels(reference, image, variant, engine.device), iters, engine.device)
    eng_ms = median_ms(lambda: engine.segment(image, variant).labels, iters, engine.device)
    all_ms = median_ms(lambda: engine.predict_all(engine.analyze(image)), iters, engine.device)
    analysis = engine.analyze(image)
    engine.predict_all(analysis)
    switch_ms = median_ms(lambda: [engine.predict(analysis, v) for v in engine.variants], iters, engine.device)
    agree = float((reference_labels(reference, image, variant, engine.device) == engine.segment(image, variant).labels).mean())
    return BenchResult(str(engine.device), size, variant, ref_ms, eng_ms, ref_ms / eng_ms, agree, all_ms, switch_ms, iters)
