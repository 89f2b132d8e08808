"""Cost against image size: the engine, onnxruntime and OpenVINO on the same full-width FCN-8s.

Each (runtime, size) runs in its own process, so its peak resident memory is its own; the ONNX file is
exported once and shared. Prints a markdown table (and ``--json``).

    .venv/bin/python scripts/bench_sizes.py --sizes 256 512 1024 2048 4096 --json sizes.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RUNTIMES = ("engine", "onnxruntime", "openvino")


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _limit_memory(gb: float) -> None:
    import resource

    limit = int(gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def child(runtime: str, size: int, onnx_path: str, iters: int, threads: int) -> dict:
    """Time one runtime at one size in this process: median of ``iters`` runs after one warm-up
    (none above 1024², where one run says enough)."""
    import statistics

    import torch

    from fcn_core import Engine
    from fcn_core.bench.benchmark import bench_image
    from fcn_core.bench.peers import PEER_MAKERS
    from fcn_core.cli.bench import full_vgg16
    from fcn_core.inference.cpu_tuning import keep_freed_memory
    from fcn_core.inference.device import tune_process

    torch.set_num_threads(threads)
    tune_process("cpu")
    keep_freed_memory()  # as the command line does (fcn_core.cli), for every runtime alike
    image = bench_image((size, size))
    if runtime == "engine":
        engine = Engine(full_vgg16(), "cpu")
        run = lambda: engine.segment(image, "8s").labels  # noqa: E731
    else:
        peer = PEER_MAKERS[runtime](Path(onnx_path), threads)
        run = lambda: peer.labels(image)  # noqa: E731
    if size <= 1024:
        run()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return {"runtime": runtime, "size": size, "ms": 1000 * statistics.median(times), "peak_mb": _peak_rss_mb()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 2048, 4096])
    ap.add_argument("--runtimes", nargs="+", default=list(RUNTIMES), choices=RUNTIMES)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--max-gb", type=float, default=18.0,
                    help="address-space limit of each run: one that needs more fails instead of swapping the machine")
    ap.add_argument("--child", nargs=4, metavar=("RUNTIME", "SIZE", "ONNX", "ITERS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        runtime, size, onnx_path, iters = args.child
        print(json.dumps(child(runtime, int(size), onnx_path, int(iters), args.threads)))
        return 0
    from fcn_core.cli.bench import full_vgg16
    from fcn_core.model.onnx_graph import export_onnx

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "fcn8s.onnx"
        if set(args.runtimes) - {"engine"}:
            export_onnx(full_vgg16(), "8s", onnx_path)
        for size in args.sizes:
            iters = 3 if size <= 512 else 2 if size <= 1024 else 1
            for runtime in args.runtimes:
                proc = subprocess.run([sys.executable, __file__, "--threads", str(args.threads), "--child", runtime,
                                       str(size), str(onnx_path), str(iters)], capture_output=True, text=True,
                                      preexec_fn=lambda: _limit_memory(args.max_gb))
                if proc.returncode == 0:
                    row = json.loads(proc.stdout.strip().splitlines()[-1])
                else:  # killed for memory, most likely: say so in the table
                    row = {"runtime": runtime, "size": size, "ms": None, "peak_mb": None,
                           "error": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:120]}
                rows.append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
    print("| size | " + " | ".join(f"{r} time | {r} peak" for r in args.runtimes) + " |")
    print("|---:|" + "---:|---:|" * len(args.runtimes))
    for size in args.sizes:
        cells = []
        for runtime in args.runtimes:
            r = next(x for x in rows if x["size"] == size and x["runtime"] == runtime)
            cells += ([f"{r['ms'] / 1000:.2f} s" if r["ms"] >= 1000 else f"{r['ms']:.0f} ms", f"{r['peak_mb'] / 1024:.1f} GB"]
                      if r["ms"] is not None else ["failed", r.get("error", "")])
        print(f"| {size}² | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
