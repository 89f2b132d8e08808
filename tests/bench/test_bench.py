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


def test_bench_peers_run_the_same_net_in_turn(tmp_path, tiny_bundle, capsys, monkeypatch):
    """--peers: each installed runtime gives the reference's labels and a speedup; a missing one is a note."""
    import importlib.util

    import pytest

    from fcn_core.bench import peers

    installed = [n for n in peers.PEER_PACKAGES if importlib.util.find_spec(n) is not None]
    if not installed:
        pytest.skip("neither onnxruntime nor OpenVINO is installed")
    ckpt = tmp_path / "m.pt"
    save_checkpoint(tiny_bundle, ckpt)
    assert core_main(["bench", "--weights", str(ckpt), "--size", "37x61", "--iters", "1", "--batch", "0",
                      "--device", "cpu", "--peers", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in data["peers"]] == installed
    for p in data["peers"]:
        assert _positive(p["ms"]) and _positive(p["engine_speedup"]) and p["version"]
        assert p["label_agreement"] == 1.0  # the same net, fp32: the same labels
    assert core_main(["bench", "--weights", str(ckpt), "--size", "40x40", "--iters", "1", "--batch", "0",
                      "--peers"]) == 0
    assert f"{installed[0]} " in capsys.readouterr().out
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == installed[0] else real(name, *a))
    assert core_main(["bench", "--weights", str(ckpt), "--size", "40x40", "--iters", "1", "--batch", "0",
                      "--device", "cpu", "--peers", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert installed[0] not in [p["name"] for p in data["peers"]]
    assert any(f"{installed[0]} is not installed" in n and "[peers]" in n for n in data["notes"])


def test_onnx_graph_gives_the_engines_labels_on_odd_sizes(tmp_path, tiny_bundle):
    """The exported graph has dynamic height and width (the crops follow the input), metadata included."""
    import copy

    import numpy as np
    import pytest

    ort = pytest.importorskip("onnxruntime")
    from fcn_core import Engine
    from fcn_core.model.onnx_graph import export_onnx

    path = export_onnx(copy.deepcopy(tiny_bundle), "16s", tmp_path / "m.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    engine = Engine(copy.deepcopy(tiny_bundle), "cpu")
    rng = np.random.default_rng(0)
    for size in [(1, 1), (31, 77), (64, 64)]:
        image = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
        labels = session.run(None, {"image": image[None]})[0][0]
        assert labels.dtype == np.uint8 and np.array_equal(labels, engine.segment(image, "16s").labels), size
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["fcn_workbench.variants"]) == ["16s"] and json.loads(meta["fcn_workbench.class_names"])[0] == "c0"
