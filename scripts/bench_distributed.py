"""Scaling under torchrun: training steps and folder prediction in one process against N processes (gloo or NCCL).

    .venv/bin/python scripts/bench_distributed.py [--nproc 2] [--device cpu] [--steps 12] [--images 48] [--json]

Writes a scene dataset (160 px, the demo model's) and a folder of 500×375 scenes to a temporary folder, then runs
each setting as its own process(es): one process with the machine's threads, one process with one thread, and
``torchrun --nproc-per-node N`` (torchrun gives each process OMP_NUM_THREADS=1). Each run times, after warm-up,
``steps`` training steps of the demo recipe (width 1/8, crop 160, a global batch of 8: 8 per process alone,
8/N per process under torchrun) and ``predict`` of the folder (FCN-8s, the demo model) from a barrier to a
barrier. Reports seconds per step, training images per second, and predicted images per second.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GLOBAL_BATCH = 8
WARMUP_STEPS = 3


def _worker(data: Path, images: Path, out: Path, steps: int, device: str) -> None:
    """One run's timings (rank 0 prints them as one JSON line): train steps, then predict."""
    from fcn_core import DEMO_MODEL, Engine, load_bundle
    from fcn_core import distributed
    from fcn_core.inference.folder_predict import predict_folder
    from fcn_core.storage.image_io import expand_image_paths
    from fcn_core.training.config import TrainConfig
    from fcn_core.training.trainer import Trainer

    out.mkdir(parents=True, exist_ok=True)
    with distributed.session(device) as world:
        cfg = TrainConfig(data=str(data), out=str(out / "bench.pt"), width=0.125, crop=160, device=device,
                          batch=GLOBAL_BATCH // world.size, iterations=WARMUP_STEPS + steps, val_split=None,
                          checkpoint_every=10 ** 6, seed=0)
        stamps = [time.perf_counter() for p in Trainer(cfg).run() if not p.done]
        per_step = (stamps[-1] - stamps[WARMUP_STEPS - 1]) / steps
        paths = expand_image_paths([images])
        engine = Engine(load_bundle([DEMO_MODEL]), device)
        predict_folder(engine, paths[:2], out / "warm", ["8s"])
        distributed.barrier()
        t0 = time.perf_counter()
        predict_folder(engine, paths, out / "pred", ["8s"], part=(world.rank, world.size))
        distributed.barrier()
        predict_s = time.perf_counter() - t0
        if world.main:
            print(json.dumps({"processes": world.size, "threads": __import__("torch").get_num_threads(),
                              "s_per_step": per_step, "train_img_s": GLOBAL_BATCH / per_step,
                              "predict_img_s": len(paths) / predict_s}), flush=True)


def _run(label: str, cmd: list[str], env: dict[str, str]) -> dict:
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **env}, timeout=1800)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{label} failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}")
    return {"setting": label, **json.loads(lines[-1])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nproc", type=int, default=2, help="processes under torchrun (GPUs, on CUDA)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--steps", type=int, default=12, help="timed training steps (after 3 of warm-up)")
    p.add_argument("--images", type=int, default=48, help="images in the predicted folder")
    p.add_argument("--json", action="store_true")
    p.add_argument("--worker", nargs=3, metavar=("DATA", "IMAGES", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        _worker(*(Path(a) for a in args.worker), args.steps, args.device)
        return

    import cv2

    from fcn_core import make_scene
    from fcn_core.data.demo_data import write_scene_dataset

    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        data, images = Path(tmp) / "scenes", Path(tmp) / "images"
        write_scene_dataset(data, 64, seed=1, split="train", size=(160, 160))
        images.mkdir()
        for i in range(args.images):
            cv2.imwrite(str(images / f"s{i:03d}.jpg"), cv2.cvtColor(make_scene(5, i, (375, 500)).image, cv2.COLOR_RGB2BGR))
        worker = [__file__, "--steps", str(args.steps), "--device", args.device, "--worker", str(data), str(images)]
        settings = []
        if args.device == "cpu":
            settings.append((f"1 process, {cores} threads", [sys.executable, *worker, str(Path(tmp) / "a")], {}))
        settings.append(("1 process, 1 thread" if args.device == "cpu" else "1 process",
                         [sys.executable, *worker, str(Path(tmp) / "b")], {"OMP_NUM_THREADS": "1"}))
        settings.append((f"torchrun, {args.nproc} processes × 1 thread" if args.device == "cpu" else
                         f"torchrun, {args.nproc} processes",
                         [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
                          str(args.nproc), *worker, str(Path(tmp) / "c")], {"OMP_NUM_THREADS": "1"}))
        results = [_run(label, cmd, env) for label, cmd, env in settings]
    if args.json:
        print(json.dumps({"cores": cores, "device": args.device, "global_batch": GLOBAL_BATCH, "results": results},
                         indent=1))
        return
    print(f"{cores} CPU cores, device {args.device}, global batch {GLOBAL_BATCH}, {args.images} images of 500×375")
    print("| setting | s per training step | training images/s | predict images/s |")
    print("|---|---:|---:|---:|")
    for r in results:
        print(f"| {r['setting']} | {r['s_per_step']:.3f} | {r['train_img_s']:.1f} | {r['predict_img_s']:.1f} |")


if __name__ == "__main__":
    main()
