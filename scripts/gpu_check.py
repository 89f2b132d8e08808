"""Every GPU figure the project needs, in one run of a few minutes, printed as one table.

    bash scripts/gpu_check.sh                 # on a machine with a CUDA GPU
    bash scripts/gpu_check.sh --dry           # the same steps on the CPU, tiny sizes (the tests run this)

Rows: the engine at 500×500 (fp16, channels_last; image in → labels out) against the eager fp32
reference and against the engine without the padding skip; the skip's exactness on the device; all
three variants from one backbone; batch throughput; ``predict`` on a folder; ``--compile``; CUDA graphs
for a repeated size; fp16 against fp32 labels (full-width net and demo model); the at-once net's
pool3 × 1e-4 in fp16; the fine-tune with its defaults on 20 corrected scenes (≤ 30 s). A step that fails prints its error in its row and the others still run.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from fcn_core import DEMO_MODEL, Engine, FCNBundle, load_bundle, make_scene  # noqa: E402
from fcn_core.bench.benchmark import median_ms as _median_ms, reference_labels  # noqa: E402
from fcn_core.inference.device import tune_process  # noqa: E402
from fcn_core.inference.folder_predict import predict_folder  # noqa: E402
from fcn_core.model.metadata import VARIANTS, VariantSpec, voc_meta  # noqa: E402


class Table:
    """Rows of (check, figure, target, verdict), printed at the end and kept for --json."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, check: str, figure: str, target: str = "", ok: bool | None = None, **values) -> None:
        figure = " ".join(figure.split())[:200]
        self.rows.append({"check": check, "figure": figure, "target": target,
                          "verdict": "" if ok is None else ("ok" if ok else "MISSED"), **values})
        print(f"  {check}: {figure}" + (f"  (target {target})" if target else ""), flush=True)

    def print(self) -> None:
        widths = [max(len(r[k]) for r in self.rows + [{"check": "check", "figure": "figure", "target": "target",
                                                        "verdict": ""}]) for k in ("check", "figure", "target")]
        print()
        print(f"| {'check':<{widths[0]}} | {'figure':<{widths[1]}} | {'target':<{widths[2]}} | verdict |")
        print(f"|{'-' * (widths[0] + 2)}|{'-' * (widths[1] + 2)}|{'-' * (widths[2] + 2)}|---------|")
        for r in self.rows:
            print(f"| {r['check']:<{widths[0]}} | {r['figure']:<{widths[1]}} | {r['target']:<{widths[2]}} | "
                  f"{r['verdict']:<7} |")


def median_ms(fn: Callable[[], object], iters: int, device: torch.device) -> float:
    return _median_ms(fn, iters, device, warmup=2)  # two warm-ups: cuDNN autotuning, then a CUDA graph capture


def full_width(at_once: bool = False, width: float = 1.0) -> FCNBundle:
    torch.manual_seed(0)
    specs = tuple(VariantSpec(v, at_once=at_once and v == "8s") for v in VARIANTS)
    return FCNBundle(voc_meta(specs, width, "random full-width FCN")).eval()


def step(table: Table, name: str, fn: Callable[[], None]) -> None:
    t0 = time.perf_counter()
    try:
        fn()
    except Exception as e:  # one failing step must not cost the rest of the run
        table.add(name, f"FAILED: {type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}", ok=False)
        traceback.print_exc()
    print(f"    ({name}: {time.perf_counter() - t0:.1f} s)", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry", action="store_true", help="CPU, tiny sizes, one iteration: checks the script itself")
    ap.add_argument("--device", default=None, help="default: cuda (cpu with --dry)")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    ap.add_argument("--compile-timeout", type=float, default=240.0, help="seconds to wait for torch.compile")
    args = ap.parse_args(argv)
    device = torch.device(args.device or ("cpu" if args.dry else "cuda"))
    if device.type == "cuda" and not torch.cuda.is_available():
        print("No CUDA device here: run it with --dry to check the script on the CPU.", file=sys.stderr)
        return 2
    size = (64, 64) if args.dry else (500, 500)
    width = 1 / 16 if args.dry else 1.0
    iters = 1 if args.dry else 50
    n_folder = 6 if args.dry else 1000
    batch = 2 if args.dry else 16
    tune_process(str(device))
    table = Table()
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (dry run)"
    print(f"gpu_check: {gpu}, torch {torch.__version__}, {size[0]}×{size[1]}, width {width}", flush=True)
    image = make_scene(0, 0, size).image
    base = full_width(width=width)
    engine = Engine(copy.deepcopy(base), str(device))
    fast = engine.fast_form

    def one_image() -> None:
        reference = copy.deepcopy(base).float().to(device)
        ref_ms = median_ms(lambda: reference_labels(reference, image, "8s", device), max(3, iters // 5), device)
        eng_ms = median_ms(lambda: engine.segment(image, "8s").labels, iters, device)
        agree = float((reference_labels(reference, image, "8s", device) == engine.segment(image, "8s").labels).mean())
        table.add("FCN-8s image in → labels out (fp16, channels_last)", f"{eng_ms:.2f} ms", "≤ 1.2 ms",
                  eng_ms <= 1.2, engine_ms=eng_ms)
        table.add("eager fp32 reference, same image", f"{ref_ms:.2f} ms ({ref_ms / eng_ms:.1f}× the engine)",
                  reference_ms=ref_ms)
        table.add("labels fp16 engine vs fp32 reference (random full-width net)", f"{100 * agree:.3f} %",
                  "≥ 99.9 %", agree >= 0.999, agreement=agree)

    def skip_gain() -> None:
        from fcn_core.inference.padding_skip import PaddingSkip
        x = engine._input(image)
        bb = engine.bundle.backbones["shared"]
        padding_skip = PaddingSkip(bb)
        plain = lambda: bb(x, conv=fast._convs["shared"], conv_applies_relu=True)  # noqa: E731
        skip = lambda: padding_skip.features(x, conv=fast._convs["shared"], conv_applies_relu=True)  # noqa: E731
        with torch.inference_mode():
            p_ms, s_ms = median_ms(plain, iters, device), median_ms(skip, iters, device)
            a, b = plain(), skip()
            err = max(float((getattr(a, n).float() - getattr(b, n).float()).abs().max() /
                            getattr(a, n).float().abs().max().clamp_min(1e-12)) for n in ("pool3", "pool4", "conv7"))
        table.add("backbone: padding skip vs every position", f"{s_ms:.2f} ms vs {p_ms:.2f} ms ({p_ms / s_ms:.2f}×)",
                  skip_ms=s_ms, plain_ms=p_ms)
        table.add("padding skip on the device (off by default there), fp16: largest relative difference", f"{err:.1e}", "≤ 1e-2",
                  err <= 1e-2, relative_error=err)
        bb32 = copy.deepcopy(base.backbones["shared"]).float().to(device)
        skip32, worst = PaddingSkip(bb32), 0.0
        tf32 = torch.backends.cudnn.allow_tf32
        torch.backends.cudnn.allow_tf32 = False  # TF32 rounds differently per algorithm, hence per shape
        with torch.inference_mode():
            for hw in ((1, 1), (37, 91), (3, 700), size):
                x32 = torch.randn(2, 3, *hw, device=device)
                a, b = bb32(x32), skip32.features(x32)
                worst = max([worst] + [float((getattr(a, n) - getattr(b, n)).abs().max() /
                                             getattr(a, n).abs().max().clamp_min(1e-12)) for n in ("pool3", "pool4", "conv7")])
        torch.backends.cudnn.allow_tf32 = tf32
        table.add("padding skip on the device, fp32 (no TF32), sizes 1×1 to 500×500: largest relative difference",
                  f"{worst:.1e}", "≤ 1e-4", worst <= 1e-4, relative_error_fp32=worst)

    def all_variants() -> None:
        one = median_ms(lambda: engine.segment(image, "8s"), iters, device)
        three = median_ms(lambda: engine.predict(engine.cache_for(image)), iters, device)
        table.add("all three variants, one backbone pass", f"{three:.2f} ms ({three / one:.2f}× one)", "≤ 1.3× one",
                  three / one <= 1.3, ratio=three / one)

    def batches() -> None:
        images = [make_scene(s, 0, size).image for s in range(batch)]
        ms = median_ms(lambda: engine.predict_batch(images, ["8s"]), max(3, iters // 5), device)
        table.add(f"batch of {batch}, FCN-8s", f"{1000 * batch / ms:.0f} images/s ({ms / batch:.2f} ms each)",
                  images_per_s=1000 * batch / ms)

    def folder() -> None:
        tmp = Path(tempfile.mkdtemp(prefix="fcn-gpu-check-"))
        try:
            src = tmp / "in"
            src.mkdir()
            from PIL import Image
            distinct = [make_scene(s, 0, (375, 500) if not args.dry else (48, 64)).image for s in range(8)]
            for i in range(8):
                Image.fromarray(distinct[i]).save(src / f"s{i:04d}.jpg", quality=92)
            for i in range(8, n_folder):
                shutil.copyfile(src / f"s{i % 8:04d}.jpg", src / f"s{i:04d}.jpg")
            paths = sorted(src.iterdir())
            predict_folder(engine, paths[:16], tmp / "warm", ["8s"])
            t0 = time.perf_counter()
            report = predict_folder(engine, paths, tmp / "out", ["8s"])  # predict's defaults
            rate = len(report.done) / (time.perf_counter() - t0)
            table.add(f"predict, folder of {n_folder} JPEGs 500×375 (decode, run, write PNG)", f"{rate:.0f} images/s",
                      "≥ 800 images/s", rate >= 800, images_per_s=rate)
            from fcn_core.storage.atomic import atomic_write_bytes
            from fcn_core.storage.image_io import encode_label_png, read_image
            sample = paths[:min(40, len(paths))]
            t0 = time.perf_counter()
            decoded = [read_image(p) for p in sample]
            t1 = time.perf_counter()
            labels = engine.predict_batch(decoded[:8], ["8s"])[0]["8s"].labels
            palette = np.zeros((256, 3), np.uint8)
            pngs = [encode_label_png(labels, palette) for _ in sample]
            t2 = time.perf_counter()
            for i, png in enumerate(pngs):
                atomic_write_bytes(tmp / f"d{i}.png", png)
            t3 = time.perf_counter()
            for i, png in enumerate(pngs):
                atomic_write_bytes(tmp / f"n{i}.png", png, durable=False)
            t4 = time.perf_counter()
            n = len(sample)
            table.add("predict's parts, one thread, per image", f"decode {1000 * (t1 - t0) / n:.2f} ms, PNG encode "
                      f"{1000 * (t2 - t1) / n:.2f} ms, atomic write {1000 * (t3 - t2) / n:.2f} ms with fsync, "
                      f"{1000 * (t4 - t3) / n:.2f} ms without")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def compiled() -> None:
        t0 = time.perf_counter()
        if args.dry:  # the plumbing, not the compiler: inductor takes minutes on a CPU
            os.environ.setdefault("FCN_COMPILE_BACKEND", "eager")
        c = Engine(copy.deepcopy(base), str(device), compile=True)
        ready = c.compiled.wait(args.compile_timeout)
        built = time.perf_counter() - t0
        if not ready:
            table.add("--compile", f"not ready after {built:.0f} s: {c.compiled.error or 'still compiling'}", ok=False)
            return
        c.segment(image, "8s")  # the first call at this size compiles it
        ms = median_ms(lambda: c.segment(image, "8s").labels, iters, device)
        eager = median_ms(lambda: engine.segment(image, "8s").labels, iters, device)
        table.add("--compile (torch.compile, after warm-up)", f"{ms:.2f} ms vs eager {eager:.2f} ms "
                  f"(built in {built:.0f} s)", compiled_ms=ms, eager_ms=eager)

    def graphs() -> None:
        if engine.graphs is None:
            table.add("CUDA graph replay, same size", f"skipped ({device.type})")
            return
        plain = Engine(copy.deepcopy(base), str(device))
        plain.graphs = None
        g_ms = median_ms(lambda: engine.segment(image, "8s").labels, iters, device)
        e_ms = median_ms(lambda: plain.segment(image, "8s").labels, iters, device)
        same = bool((engine.segment(image, "8s").labels == plain.segment(image, "8s").labels).all())
        table.add("engine with CUDA graphs (repeated size) vs without", f"{g_ms:.2f} ms vs {e_ms:.2f} ms "
                  f"({e_ms / g_ms:.2f}×), labels {'equal' if same else 'DIFFER'}", graph_ms=g_ms, eager_ms=e_ms)

    def fp16_vs_fp32() -> None:
        for name, make in (("random full-width net", lambda: base),
                           ("demo model", lambda: load_bundle([DEMO_MODEL]))):
            b = make()
            half = Engine(copy.deepcopy(b), str(device))
            single = Engine(copy.deepcopy(b), str(device), precision="fp32")
            agree = []
            for seed in range(4 if not args.dry else 1):
                img = make_scene(seed + 10, 0, size).image
                for v in b.meta.variant_names:
                    agree.append(float((half.segment(img, v).labels == single.segment(img, v).labels).mean()))
            worst = min(agree)
            table.add(f"labels fp16 vs fp32, {name} (worst of variants × scenes)", f"{100 * worst:.3f} %",
                      "≥ 99.9 %", worst >= 0.999, agreement=worst)

    def at_once() -> None:
        b = full_width(at_once=True, width=width)
        half = Engine(copy.deepcopy(b), str(device))
        single = Engine(copy.deepcopy(b), str(device), precision="fp32")
        ch, cs = half.cache_for(image), single.cache_for(image)
        p16 = half.fusion(ch, "8s").contributions["pool3"]
        p32 = single.fusion(cs, "8s").contributions["pool3"]
        rel = float(np.abs(p16 - p32).max() / max(np.abs(p32).max(), 1e-30))
        pool3 = half._cached_features(ch, "shared").pool3 * 0.0001
        tiny = float(((pool3 != 0) & (pool3.abs() < torch.finfo(torch.float16).tiny)).float().mean())
        agree = float((half.segment(image, "8s").labels == single.segment(image, "8s").labels).mean())
        table.add("at-once FCN-8s in fp16: pool3 × 1e-4 contribution vs fp32",
                  f"relative error {rel:.1e}, {100 * tiny:.2f} % of pool3×1e-4 subnormal, labels {100 * agree:.3f} %",
                  "labels ≥ 99.9 %", agree >= 0.999, relative_error=rel, subnormal_share=tiny, agreement=agree)

    def finetune() -> None:
        # the window's fine-tune with its defaults on 20 corrected hue-shifted scenes (scripts/bench_finetune.py's
        # user): issue #18 asks for at most 30 s on a GPU
        sys.path.insert(0, str(ROOT / "scripts"))
        from bench_finetune import HELD_OUT_SEED, TRAIN_SEED, corrected_folder, mean_ious, shifted_scenes

        from fcn_core import load_checkpoint
        from fcn_core.training.config import FINETUNE_ITERATIONS
        from fcn_core.training.finetune import finetune_on_corrections

        demo = load_bundle([DEMO_MODEL])
        count, steps = (3, 8) if args.dry else (20, FINETUNE_ITERATIONS)
        tmp = Path(tempfile.mkdtemp(prefix="fcn-gpu-finetune-"))
        try:
            folder = corrected_folder(tmp / "hue", shifted_scenes("hue", TRAIN_SEED, count), demo.meta.classes,
                                      demo.meta.colors)
            t0 = time.perf_counter()
            result = finetune_on_corrections(demo, folder, steps, device=str(device))
            seconds = time.perf_counter() - t0
            held_out = shifted_scenes("hue", HELD_OUT_SEED, 4 if args.dry else 40)
            before, after = mean_ious(demo, held_out)["8s"], mean_ious(load_checkpoint(result.checkpoint)[0], held_out)["8s"]
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        table.add(f"fine-tune, {count} corrected hue-shifted scenes, {result.iterations} steps"
                  + ("" if args.dry else " (the defaults)"),
                  f"{seconds:.1f} s, FCN-8s held-out mean IU {before:.1f} → {after:.1f}", "≤ 30 s", seconds <= 30,
                  seconds=seconds, before=before, after=after)

    for name, fn in (("one image", one_image), ("padding skip", skip_gain), ("all variants", all_variants),
                     ("batches", batches), ("folder", folder), ("CUDA graphs", graphs), ("fp16 vs fp32", fp16_vs_fp32),
                     ("at-once", at_once), ("fine-tune", finetune), ("compile", compiled)):
        step(table, name, fn)
    table.print()
    if args.json:
        args.json.write_text(json.dumps({"device": gpu, "torch": torch.__version__, "rows": table.rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
