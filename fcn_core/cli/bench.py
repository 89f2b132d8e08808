"""``fcn-workbench bench``: the engine against the reference path, in one run."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..model.metadata import VARIANTS, VariantSpec, voc_meta
from ..paths import DEMO_MODEL
from .args import CLIError, add_device_arg, parse_size

if TYPE_CHECKING:
    from ..bench.benchmark import CaseResult
    from ..model.bundle import FCNBundle


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="time the engine against the plain eager fp32 reference")
    p.add_argument("--weights", action="append", default=None, metavar="FILE",
                   help="time these weights (repeat to bundle 32s/16s/8s); default: a random full-width "
                        "VGG16 FCN (32s/16s/8s heads on one backbone) and the demo model")
    p.add_argument("--at-once", action="store_true", help="the FCN-8s weights are the at-once net")
    add_device_arg(p)
    p.add_argument("--size", default="500x500", help="HxW of the test image")
    p.add_argument("--batch", type=int, default=4, help="images in the batch case (0 or 1: skip it)")
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--large", nargs="?", const="1024x2048", default=None, metavar="HxW",
                   help="also time a large image (default 1024x2048)")
    p.add_argument("--compile", action="store_true", help="the engine uses torch.compile (waits for it)")
    p.add_argument("--peers", action="store_true",
                   help="also time onnxruntime and OpenVINO on the same net exported to ONNX (CPU; the [peers] extra)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def full_vgg16() -> "FCNBundle":
    """A full-width VGG16 FCN with 32s/16s/8s heads on one backbone, the same random weights every time."""
    import torch

    from ..model.bundle import FCNBundle

    torch.manual_seed(0)
    return FCNBundle(voc_meta(tuple(VariantSpec(v) for v in VARIANTS), 1.0, "random full-width FCN")).eval()


def _models(args: argparse.Namespace) -> list[tuple[str, Callable[[], "FCNBundle"]]]:
    from ..weights import load_bundle

    if args.weights:
        paths = [Path(w) for w in args.weights]
        return [(", ".join(p.name for p in paths), lambda: load_bundle(paths, args.at_once))]
    models: list[tuple[str, Callable[[], FCNBundle]]] = [("VGG16 FCN, full width (random weights)", full_vgg16)]
    if DEMO_MODEL.exists():
        models.append(("demo model", lambda: load_bundle([DEMO_MODEL])))
    return models


def _print_case(r: "CaseResult") -> None:
    print(f"{r.model} on {r.device}, {r.size[0]}×{r.size[1]}, FCN-{r.variant}:")
    rows = [("reference (eager fp32 NCHW)", f"{r.reference_ms:.2f} ms"), ("engine", f"{r.engine_ms:.2f} ms"),
            ("speedup", f"{r.speedup:.2f}×"), ("label agreement", f"{100 * r.label_agreement:.3f} %")]
    for peer in r.peers:
        rows.append((f"{peer.name} {peer.version.split('-')[0]}",
                     f"{peer.ms:.2f} ms (engine {peer.engine_speedup:.2f}× faster), "
                     f"labels {100 * peer.label_agreement:.3f} % as the reference's"))
    if r.all_variants_ms is not None:
        rows.append(("all variants, one backbone pass", f"{r.all_variants_ms:.2f} ms ({r.all_over_one:.2f}× one)"))
    rows.append(("variant switch from cached features", f"{r.switch_from_cache_ms:.2f} ms"))
    if r.batch:
        rows.append((f"batch of {r.batch}, per image", f"reference {r.batch_reference_ms_per_image:.2f} ms, "
                                                      f"engine {r.batch_engine_ms_per_image:.2f} ms"))
    if r.peak_memory_mb is not None:
        added = f", {r.peak_added_mb:.0f} MB above the start" if r.peak_added_mb is not None else ""
        rows.append(("peak memory (all variants)", f"{r.peak_memory_mb:.0f} MB{added}"))
    for k, v in rows:
        print(f"  {k:<38} {v}")
    for note in r.notes:
        print(f"  note: {note}")


def run(args: argparse.Namespace) -> int:
    import torch

    from ..bench.benchmark import run_case
    from ..inference.device import tune_process

    size = parse_size(args.size)
    sizes = [size] + ([parse_size(args.large)] if args.large else [])
    if args.iters < 1:
        raise CLIError("--iters must be at least 1")
    kwargs = {"compile": True} if args.compile else {}
    tune_process(args.device)
    cases = []
    for name, make in _models(args):
        for i, s in enumerate(sizes):
            cases.append(run_case(name, make, s, args.device, args.iters, args.batch if i == 0 else 0, kwargs,
                                  peers=args.peers))
    if args.json:
        first = cases[0].to_dict()
        out = {**first, "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "torch": torch.__version__,
               "threads": torch.get_num_threads(), "cases": [c.to_dict() for c in cases]}
        print(json.dumps(out))
    else:
        for c in cases:
            _print_case(c)
    return 0
