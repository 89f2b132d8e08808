"""``bench`` in CI-sized form: well-formed output for every case (not the times)."""

from __future__ import annotations

import json
import math

from fcn_core import save_checkpoint
from fcn_core.cli import bench
from fcn_core.cli import main as core_main


def _positive(x) -> bool:
    return isinstance(x, float) and math.isfinite(x) and x > 0


def test_bench_json_has_every_case(tmp_path, tiny_bundle, capsys):
    ckpt = tmp_path / "m.pt"
    save_checkpoint(tiny_bundle, ckpt)
    assert core_main(["bench", "--weights", str(ckpt), "--size", "48x40", "--large", "64x96", "--batch", "2",
                      "--iters", "1", "--device", "cpu", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("reference_ms", "engine_ms", "speedup", "all_variants_ms", "all_over_one", "switch_from_cache_ms",
                "batch_reference_ms_per_image", "batch_engine_ms_per_image"):
        assert _positive(data[key]), key
    assert 0.99 < data["label_agreement"] <= 1 and data["size"] == [48, 40] and data["batch"] == 2
    assert data["peak_memory_mb"] is None or data["peak_memory_mb"] > 0
    assert [c["size"] for c in data["cases"]] == [[48, 40], [64, 96]]
    assert data["device"] == "cpu" and data["date"] and data["torch"]


def test_bench_default_models_include_full_width_vgg16():
    bundle = bench.full_vgg16()
    assert bundle.meta.width == 1.0 and bundle.meta.variant_names == ("32s", "16s", "8s")
    assert bundle.backbones["shared"].fc6.out_channels == 4096


def test_bench_text_output_and_bad_size(tmp_path, tiny_bundle, capsys):
    ckpt = tmp_path / "m.pt"
    save_checkpoint(tiny_bundle, ckpt)
    assert core_main(["bench", "--weights", str(ckpt), "--size", "40x40", "--iters", "1", "--batch", "0"]) == 0
    out = capsys.readouterr().out
    assert "speedup" in out and "label agreement" in out and "variant switch" in out
    assert core_main(["bench", "--weights", str(ckpt), "--size", "big"]) == 2
    assert "500x500" in capsys.readouterr().err


def test_compiled_engine_swaps_in_once_ready(tiny_bundle, rgb_image, monkeypatch):
    """The torch.compile path (meant for GPUs) builds on a background thread; until then eager runs."""
    import threading

    import numpy as np
    import torch

    from fcn_core import Engine

    gate, calls = threading.Event(), []

    def fake_compile(fn, **kwargs):  # the real compiler takes minutes on this CPU; its plumbing is what we test
        gate.wait(10)

        def compiled(x):
            calls.append(tuple(x.shape))
            return fn(x)
        return compiled

    monkeypatch.setattr(torch, "compile", fake_compile)
    engine = Engine(tiny_bundle, "cpu", compile=True)
    eager = engine.segment(rgb_image).labels  # compiling has not finished: the eager form answers
    assert calls == [] and engine.compiled.ready("shared") is None
    gate.set()
    assert engine.compiled.wait(10)
    assert np.array_equal(engine.segment(rgb_image).labels, eager)
    assert calls[-1][-2:] == rgb_image.shape[:2]  # the compiled form ran (after its warm-up call)
