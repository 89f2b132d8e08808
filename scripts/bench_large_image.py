"""Large images: tiled inference's agreement with the untiled result, and an 8000×8000 image's time and peak memory.

    .venv/bin/python scripts/bench_large_image.py [--device cpu] [--size 8000] [--check 2048] [--json]

1. ``--check``: a CHECK×CHECK scene run whole and in tiles of 512 (forced); the share of equal labels per variant.
2. ``--size``: a SIZE×SIZE image (a scene tiled to size, so it has content everywhere) run once with the
   engine's default budget (tiles of 1024 above 4 MP on the CPU); wall time and the process's peak
   resident memory (CPU) or the allocator's peak (CUDA) during that run, FCN-8s only.
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import numpy as np

from fcn_core import DEMO_MODEL, Engine, load_bundle
from fcn_core.bench.benchmark import bench_image
from fcn_core.bench.peak_memory import PeakMemory


def agreement(device: str, size: int) -> dict[str, float]:
    bundle = load_bundle([DEMO_MODEL])
    image = bench_image((size, size), seed=7)
    whole = Engine(copy.deepcopy(bundle), device, max_pixels=size * size)
    tiled = Engine(copy.deepcopy(bundle), device, max_pixels=1, tile=512)
    a, b = whole.predict(whole.cache_for(image)), tiled.predict(tiled.cache_for(image))
    return {v: float((a[v].labels == b[v].labels).mean()) for v in whole.variants}


def large(device: str, size: int) -> dict[str, float | None]:
    engine = Engine(load_bundle([DEMO_MODEL]), device)
    tile = bench_image((1000, 1000), seed=8)
    reps = -(-size // 1000)
    image = np.ascontiguousarray(np.tile(tile, (reps, reps, 1))[:size, :size])
    with PeakMemory(engine.device) as peak:
        t0 = time.perf_counter()
        pred = engine.segment(image, "8s")
        seconds = time.perf_counter() - t0
    return {"size": size, "seconds": seconds, "peak_memory_mb": peak.megabytes, "labels_shape": list(pred.labels.shape),
            "notices": engine.notices}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--size", type=int, default=8000)
    p.add_argument("--check", type=int, default=2048)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    result = {"tiled_label_agreement": agreement(args.device, args.check), "check_size": args.check,
              "large": large(args.device, args.size)}
    print(json.dumps(result) if args.json else json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
