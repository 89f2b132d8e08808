"""Timing the engine against the reference path (plain eager fp32 NCHW module) in one run.

Both paths get the same weights and the same images; every figure is a median over ``iters`` runs
after warm-up, the reference and the engine run alternately, and the speedup is a ratio measured in
the same process, so shared, noisy machines still give comparable numbers.
"""

from __future__ import annotations

import copy
import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
import torch

from ..data.scenes import make_scene
from ..inference.engine import Engine
from ..model.bundle import FCNBundle
from ..model.normalize import to_input
from .peak_memory import PeakMemory


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(fn: Callable[[], object], iters: int, device: torch.device, warmup: int = 1) -> float:
    """Median wall time of ``fn`` in milliseconds (device work included)."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(max(1, iters)):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def paired_median_ms(fn_a: Callable[[], object], fn_b: Callable[[], object], iters: int, device: torch.device,
                     warmup: int = 1) -> tuple[float, float]:
    """Median times of two paths run alternately (a, b, a, b, …), so both see the same machine load."""
    for _ in range(warmup):
        fn_a()
        fn_b()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(max(1, iters)):
        for fn, out in ((fn_a, times[0]), (fn_b, times[1])):
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            out.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def reference_labels(bundle: FCNBundle, images: np.ndarray, variant: str, device: torch.device) -> np.ndarray:
    """The way the public ports run it: eager fp32, NCHW, one variant, argmax on the device."""
    x = to_input(bundle.meta.preprocessing, images, device)
    with torch.no_grad():
        labels = bundle(x, variant).argmax(1).to(torch.uint8).cpu().numpy()
    return labels if images.ndim == 4 else labels[0]


def bench_image(size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A generated scene of the given size (textured, with objects: labels are not trivial)."""
    return make_scene(seed, 0, size).image


@dataclass
class CaseResult:
    """One model at one image size: reference vs engine, and the engine's other cases."""

    model: str
    device: str
    size: tuple[int, int]
    variant: str
    reference_ms: float
    engine_ms: float
    speedup: float
    label_agreement: float
    all_variants_ms: float | None = None
    all_over_one: float | None = None
    switch_from_cache_ms: float | None = None
    batch: int | None = None
    batch_reference_ms_per_image: float | None = None
    batch_engine_ms_per_image: float | None = None
    peak_memory_mb: float | None = None
    peak_added_mb: float | None = None
    iters: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def run_case(name: str, make_bundle: Callable[[], FCNBundle], size: tuple[int, int], device: str = "cpu",
             iters: int = 5, batch: int = 0, engine_kwargs: dict | None = None) -> CaseResult:
    """Reference vs engine on one generated scene of ``size``, then all variants, a switch and a batch."""
    image = bench_image(size)
    base = make_bundle().eval()
    engine = Engine(copy.deepcopy(base), device, **(engine_kwargs or {}))
    dev = engine.device
    variant = engine.variants[-1]
    reference = copy.deepcopy(base).float().to(dev)
    if engine.compiled is not None:
        engine.compiled.wait()
    ref_ms, eng_ms = paired_median_ms(lambda: reference_labels(reference, image, variant, dev),
                                      lambda: engine.segment(image, variant).labels, iters, dev)
    agree = float((reference_labels(reference, image, variant, dev) == engine.segment(image, variant).labels).mean())
    result = CaseResult(name, str(dev), size, variant, ref_ms, eng_ms, ref_ms / eng_ms, agree, iters=iters)
    if len(engine.variants) > 1:
        result.all_variants_ms = median_ms(lambda: engine.predict(engine.cache_for(image)), iters, dev)
        result.all_over_one = result.all_variants_ms / eng_ms
    cache = engine.cache_for(image)
    engine.predict(cache)

    def switch() -> None:  # features cached, the variants' answers not: heads only
        cache.predictions.clear()
        for v in engine.variants:
            engine.predict(cache, [v])

    result.switch_from_cache_ms = median_ms(switch, iters, dev) / len(engine.variants)
    if batch > 1:
        images = np.stack([bench_image(size, seed) for seed in range(batch)])
        result.batch = batch
        ref_b, eng_b = paired_median_ms(lambda: reference_labels(reference, images, variant, dev),
                                        lambda: engine.predict_batch(list(images), [variant]), iters, dev)
        result.batch_reference_ms_per_image, result.batch_engine_ms_per_image = ref_b / batch, eng_b / batch
    reference = cache = base = None  # free them before the memory case
    with PeakMemory(dev) as peak:
        engine.predict(engine.cache_for(image))
    result.peak_memory_mb, result.peak_added_mb = peak.megabytes, peak.added_megabytes
    result.notes = list(engine.notices) + ([engine.compiled.error] if engine.compiled and engine.compiled.error else [])
    return result
