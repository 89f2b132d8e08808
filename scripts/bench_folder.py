"""Folder throughput: ``predict``'s pipeline against a plain one-image-at-a-time loop, same engine, same files.

    .venv/bin/python scripts/bench_folder.py [--count 1000] [--device auto] [--batch N] [--weights F] [--json]

Writes COUNT generated 500×375 JPEG scenes to a temporary folder, then times (1) the plain loop:
read, segment (FCN-8s), write the label PNG, one after the other; (2) ``predict_folder``: parallel
decoding with prefetch, batches of equal-sized images, writes on background threads. Reports images/s.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2

from fcn_core import DEMO_MODEL, Engine, load_bundle, read_image, read_label_png, write_label_png
from fcn_core import full_palette, make_scene
from fcn_core.inference.folder_predict import predict_folder


def make_folder(folder: Path, count: int) -> list[Path]:
    base = [make_scene(11, i, (375, 500)).image for i in range(min(count, 50))]
    paths = []
    for i in range(count):
        path = folder / f"img_{i:05d}.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(base[i % len(base)], cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(path)
    return paths


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--device", default="auto")
    p.add_argument("--batch", type=int, default=None, help="default: predict's (8 on CUDA, 1 on the CPU)")
    p.add_argument("--readers", type=int, default=None, help="default: predict's (4 on CUDA, 1 on the CPU)")
    p.add_argument("--weights", action="append")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    engine = Engine(load_bundle([Path(w) for w in args.weights] if args.weights else [DEMO_MODEL]), args.device)
    palette = full_palette(engine.meta.palette())
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_folder(Path(tmp), args.count)
        engine.segment(read_image(paths[0]))  # warm-up
        out1, out2 = Path(tmp) / "plain", Path(tmp) / "pipeline"
        out1.mkdir()
        t0 = time.perf_counter()
        for path in paths:
            write_label_png(out1 / f"{path.stem}_8s.png", engine.segment(read_image(path), "8s").labels, palette)
        plain = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = predict_folder(engine, paths, out2, ["8s"], batch=args.batch, readers=args.readers)
        piped = time.perf_counter() - t0
        same = sum(float((read_label_png(out1 / f"{q.stem}_8s.png") == read_label_png(out2 / f"{q.stem}_8s.png")).mean())
                   for q in paths) / len(paths)
    result = {"device": str(engine.device), "count": args.count, "batch": args.batch,
              "plain_images_per_s": args.count / plain, "pipeline_images_per_s": args.count / piped,
              "speedup": plain / piped, "label_agreement": same, "failed": len(report.failed)}
    print(json.dumps(result) if args.json else json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
