"""The GUI benchmark script runs end to end in CI size and reports well-formed figures (not their values)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from fcn_core import FCNBundle, save_checkpoint  # noqa: E402
from tests.helpers.models import randomize, tiny_meta  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_gui.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("bench_gui", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_gui_reports_every_operation(qapp, tmp_path):
    bench = _load_script()
    model = tmp_path / "tiny.pt"
    save_checkpoint(randomize(FCNBundle(tiny_meta(n_class=5))), model)
    report = bench.measure([64], 2, weights=[model], workdir=tmp_path)
    json.dumps(report)  # JSON-ready
    assert set(report) >= {"machine", "qt", "weights", "iters", "targets_ms", "results"}
    assert report["iters"] == 2 and set(report["targets_ms"]) == set(bench.TARGETS_MS)
    (row,) = report["results"]
    assert row["size"] == 64
    for op in bench.TARGETS_MS:
        stats = row[op]
        assert stats["n"] == 2
        for key in ("median_ms", "min_ms", "max_ms"):
            assert math.isfinite(stats[key]) and stats[key] > 0
        assert stats["min_ms"] <= stats["median_ms"] <= stats["max_ms"]
    assert "size" in bench.table(report)
    big = bench.measure_big((300, 200), 2, weights=[model], workdir=tmp_path)
    assert (big["width"], big["height"], big["variant"]) == (300, 200, "8s")
    assert big["engine_s"] > 0 and big["window_s"] > 0 and big["open_ratio"] == big["window_s"] / big["engine_s"]
    assert big["brush_dab_r100"]["n"] == 2 and big["brush_dab_r100"]["median_ms"] > 0
    report["big"] = big
    assert "300×200" in bench.table(report) and "r=100" in bench.table(report)
