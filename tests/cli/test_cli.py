"""The command line: predict and info, and errors as one line with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from fcn_core import save_checkpoint
from fcn_core.cli import main as core_main

ROOT = Path(__file__).resolve().parents[2]


def test_predict_writes_palette_pngs_and_logits(tmp_path, tiny_bundle, rgb_image, capsys):
    ckpt = tmp_path / "m.pt"
    save_checkpoint(tiny_bundle, ckpt)
    Image.fromarray(rgb_image).save(tmp_path / "a b.png")
    out = tmp_path / "out"
    rc = core_main(["predict", str(tmp_path / "a b.png"), "--out", str(out), "--weights", str(ckpt),
                    "--variant", "all", "--device", "cpu", "--save-logits"])
    assert rc == 0
    for v in ("32s", "16s", "8s"):
        with Image.open(out / f"a b_{v}.png") as im:
            assert im.mode == "P" and im.size == (90, 70)
            labels = np.array(im)
        scores = np.load(out / f"a b_{v}.npy")
        assert scores.shape == (5, 70, 90) and scores.dtype == np.float32
        assert np.array_equal(labels, scores.argmax(0))


def test_info_describes_checkpoint(tmp_path, tiny_bundle, capsys):
    ckpt = tmp_path / "m.pt"
    save_checkpoint(tiny_bundle, ckpt)
    assert core_main(["info", "--weights", str(ckpt)]) == 0
    out = capsys.readouterr().out
    assert "FCN Workbench checkpoint" in out and "FCN-8s" in out and "BGR" in out


def test_errors_are_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"\x80garbage")
    img = tmp_path / "i.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "predict", str(img), "--out", str(tmp_path / "o"),
                           "--weights", str(bad)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "bad.pth" in proc.stderr


def test_unreadable_image_is_reported(tmp_path, tiny_bundle, capsys):
    ckpt = tmp_path / "m.pt"
    save_checkpoint(tiny_bundle, ckpt)
    (tmp_path / "broken.jpg").write_text("not a jpeg")
    rc = core_main(["predict", str(tmp_path / "broken.jpg"), "--out", str(tmp_path / "o"), "--weights", str(ckpt)])
    assert rc == 2
    assert "broken.jpg" in capsys.readouterr().err


def test_finetune_refuses_in_one_line(tmp_path, tiny_bundle, capsys):
    ckpt = tmp_path / "m.pt"
    save_checkpoint(tiny_bundle, ckpt)
    images = tmp_path / "imgs"
    images.mkdir()
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(images / "a.png")
    assert core_main(["finetune", str(images), "--weights", str(ckpt), "--iterations", "0"]) == 2
    assert "must be positive" in capsys.readouterr().err
    assert core_main(["finetune", str(images), "--weights", str(ckpt)]) == 2  # nothing corrected yet
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no image" in err and not (images / "fcn_workbench_labels" / "finetune_data").exists()
