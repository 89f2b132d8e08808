"""Fixtures of the window tests: the correcting window (a tiny random model, two 60×80 images, edit mode on)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings

from app.window.main_window import MainWindow
from fcn_core import FCNBundle, save_checkpoint
from tests.helpers.models import randomize, tiny_meta


@pytest.fixture
def win(qtbot, tmp_path):
    model = tmp_path / "tiny.pt"
    save_checkpoint(randomize(FCNBundle(tiny_meta(n_class=5))), model)
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    w = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.resize(1300, 850)
    w.show()
    w.load_model([model])
    qtbot.waitUntil(lambda: w.meta is not None, timeout=20000)
    w.open_paths([folder])
    qtbot.waitUntil(lambda: w.result is not None, timeout=20000)
    w.set_editing(True)
    qtbot.waitUntil(lambda: w.editor.doc is not None, timeout=5000)
    yield w
    w.editor.save()
    w.service.runner.wait(10000)

