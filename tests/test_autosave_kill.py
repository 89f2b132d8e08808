"""Kill the app (SIGKILL) while it autosaves: every label file stays valid and at most the last stroke is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fcn_core import FCNBundle, Workspace, read_label_png, save_checkpoint
from tests.conftest import randomize, tiny_meta

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_killed_during_autosave_keeps_every_saved_stroke(tmp_path):
    model = tmp_path / "m.pt"
    save_checkpoint(randomize(FCNBundle(tiny_meta(n_class=5))), model)
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 200, 3), dtype=np.uint8)).save(folder / "a.png")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    rng = np.random.default_rng(1)
    for run in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "tests.helpers.autosave_app", str(model), str(folder), "120"],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        kill_after = int(rng.integers(5, 40))
        last = -1
        for line in proc.stdout:
            last = int(line)
            if last >= kill_after:
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert last >= 0, "the app never saved"
        ws = Workspace.beside(folder)
        labels = read_label_png(ws.label_path(folder / "a.png"))  # a valid PNG, never half-written
        assert labels.shape == (120, 200)
        for i in range(last + 1):  # every stroke reported saved is on disk
            assert (labels[i] == 1 + i % 4).all(), (run, i, last)
        # the next run reopens the saved labels and repaints the same rows
