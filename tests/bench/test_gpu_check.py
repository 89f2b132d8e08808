"""scripts/gpu_check.sh in its dry mode: every step runs on the CPU at tiny sizes, so the script cannot rot."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_dry_runs_every_step(tmp_path):
    out = tmp_path / "rows.json"
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--dry", "--json", str(out)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    checks = " | ".join(r["check"] for r in rows)
    for expected in ("image in → labels out", "reference", "padding skip", "all three variants", "batch of",
                     "predict, folder", "CUDA graph", "fp16 vs fp32", "at-once", "fine-tune", "--compile"):
        assert expected in checks, expected
    assert not [r for r in rows if r["figure"].startswith("FAILED")], rows
    assert "| check" in proc.stdout and proc.stdout.count("\n|") >= len(rows)  # the one table
    fp32 = next(r for r in rows if "fp32 (no TF32), sizes" in r["check"])
    assert fp32["verdict"] == "ok"


def test_gpu_check_without_a_gpu_says_so():
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--device", "cuda"],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 2 and "--dry" in proc.stderr
