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
from .peers import Peer, load_peers


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


def interleaved_median_ms(fns: dict[str, Callable[[], object]], iters: int, device: torch.device,
                          warmup: int = 1) -> dict[str, float]:
    """Median times of several paths run in turn (a, b, c, a, b, c, …), so all see the same machine load."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(max(1, iters)):
        for name, fn in fns.items():
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            times[name].append((time.perf_counter() - t0) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}


def paired_median_ms(fn_a: Callable[[], object], fn_b: Callable[[], object], iters: int, device: torch.device,
                     warmup: int = 1) -> tuple[float, float]:
    """Median times of two paths run alternately (a, b, a, b, …), so both see the same machine load."""
    medians = interleaved_median_ms({"a": fn_a, "b": fn_b}, iters, device, warmup)
    return medians["a"], medians["b"]


def reference_labels(bundle: FCNBundle, images: np.ndarray, variant: str, device: torch.device) -> np.ndarray:
    """The way the public ports run it: eager fp32, NCHW, one variant, the labels on the device as
    pytorch-fcn takes them (``max(1)``; torch's ``argmax`` over NCHW channels is many times slower)."""
    x = to_input(bundle.meta.preprocessing, images, device)
    with torch.no_grad():
        labels = bundle(x, variant).max(1).indices.to(torch.uint8).cpu().numpy()
    return labels if images.ndim == 4 else labels[0]


def bench_image(size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A generated scene of the given size (textured, with objects: labels are not trivial)."""
    return make_scene(seed, 0, size).image


@dataclass
class PeerResult:
    """Another runtime on the same net and image, timed in turn with the reference and the engine."""

    name: str
    version: str
    ms: float
    engine_speedup: float  # the peer's time over the engine's
    label_agreement: float  # with the reference's labels


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
    peers: list[PeerResult] = field(default_factory=list)
    iters: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def run_case(name: str, make_bundle: Callable[[], FCNBundle], size: tuple[int, int], device: str = "cpu",
             iters: int = 5, batch: int = 0, engine_kwargs: dict | None = None, peers: bool = False) -> CaseResult:
    """Reference vs engine on one generated scene of ``size`` (with ``peers``, onnxruntime and OpenVINO on
    the same net, all timed in turn), then all variants, a switch and a batch."""
    image = bench_image(size)
    base = make_bundle().eval()
    engine = Engine(copy.deepcopy(base), device, **(engine_kwargs or {}))
    dev = engine.device
    variant = engine.variants[-1]
    reference = copy.deepcopy(base).float().to(dev)
    if engine.compiled is not None:
        engine.compiled.wait()
    runners: dict[str, Callable[[], np.ndarray]] = {
        "reference": lambda: reference_labels(reference, image, variant, dev),
        "engine": lambda: engine.segment(image, variant).labels}
    notes: list[str] = []
    loaded: list[Peer] = []
    if peers and dev.type != "cpu":
        notes.append("peers run on the CPU: compared only with --device cpu")
    elif peers:
        loaded, notes = load_peers(base, variant)
        runners.update({p.name: (lambda p=p: p.labels(image)) for p in loaded})
    medians = interleaved_median_ms(runners, iters, dev)
    ref_ms, eng_ms = medians["reference"], medians["engine"]
    ref_labels = runners["reference"]()
    agree = float((ref_labels == runners["engine"]()).mean())
    result = CaseResult(name, str(dev), size, variant, ref_ms, eng_ms, ref_ms / eng_ms, agree, iters=iters)
    result.peers = [PeerResult(p.name, p.version, medians[p.name], medians[p.name] / eng_ms,
                               float((runners[p.name]() == ref_labels).mean())) for p in loaded]
    loaded = []
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
    reference = cache = base = runners = None  # free them before the memory case
    with PeakMemory(dev) as peak:
        engine.predict(engine.cache_for(image))
    result.peak_memory_mb, result.peak_added_mb = peak.megabytes, peak.added_megabytes
    result.notes = notes + list(engine.notices) + ([engine.compiled.error] if engine.compiled and engine.compiled.error else [])
    return result
