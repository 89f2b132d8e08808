"""The Workbench window, driven through pytest-qt (offscreen)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")
from PySide6.QtCore import QSettings, Qt, QTimer  # noqa: E402

from app.window.main_window import MainWindow  # noqa: E402
from fcn_core import FCNBundle, save_checkpoint  # noqa: E402
from tests.helpers.models import randomize, tiny_meta  # noqa: E402
from tests.helpers.mouse import move  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "tiny.pt"
    save_checkpoint(randomize(FCNBundle(tiny_meta(n_class=5))), path)
    return path


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        img = rng.integers(0, 255, (60 + 10 * i, 80, 3), dtype=np.uint8)
        img[10:40, 20:60] = (240, 30, 30)
        p = tmp_path / f"img_{i}.png"
        Image.fromarray(img).save(p)
        paths.append(p)
    return paths


@pytest.fixture
def window(qtbot, tmp_path, model_file):
    w = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.show()
    w.load_model([model_file])
    qtbot.waitUntil(lambda: w.meta is not None, timeout=20000)
    yield w
    w.service.cancel_folder()
    w.service.runner.wait(10000)


def _open(qtbot, w, path):
    w.open_paths([path])
    qtbot.waitUntil(lambda: w.result is not None and w.result.path == Path(path), timeout=20000)


def test_image_loads_and_overlay_shows_its_labels(qtbot, window, images):
    _open(qtbot, window, images[0])
    pred = window.result.predictions["8s"]
    shown = window.single.pane.overlay_item.image
    assert np.array_equal(shown, pred.labels)
    lut = window.single.pane.overlay_item.lut
    assert np.array_equal(lut[1, :3], window.palette[1])
    assert window.legend.hidden() == set()  # only a class named "background" starts hidden
    assert lut[1, 3] == int(round(255 * window.display.opacity))


def test_variant_keys_switch_without_backbone_pass(qtbot, window, images):
    _open(qtbot, window, images[0])
    passes = window.service.engine.backbone_passes
    for key, variant in ((Qt.Key.Key_1, "32s"), (Qt.Key.Key_2, "16s"), (Qt.Key.Key_3, "8s"), (Qt.Key.Key_1, "32s")):
        qtbot.keyClick(window, key)
        assert window.variant == variant
        assert np.array_equal(window.single.pane.overlay_item.image, window.result.predictions[variant].labels)
    assert window.service.engine.backbone_passes == passes


def test_opacity_outline_and_hidden_classes(qtbot, window, images):
    _open(qtbot, window, images[0])
    window.opacity.setValue(100)
    assert window.single.pane.overlay_item.lut[1, 3] == 255
    window.outline_box.setChecked(True)
    shown = window.single.pane.overlay_item.image
    assert (shown == 255).mean() > 0.5  # interiors are transparent in outline mode
    window.outline_box.setChecked(False)
    window.legend.set_hidden({0, 1})
    assert window.single.pane.overlay_item.lut[1, 3] == 0


def test_compare_views_share_their_ranges(qtbot, window, images):
    _open(qtbot, window, images[0])
    window.actions.views["compare"].trigger()
    panes = window.compare.grid.panes
    assert len(panes) == 4
    panes[0].setRange(xRange=(10, 30), yRange=(5, 25), padding=0)
    qtbot.wait(50)
    r0 = panes[0].viewRange()
    for p in panes[1:]:
        assert np.allclose(p.viewRange()[0], r0[0], atol=0.5)  # same range, up to aspect rounding
    assert {(a, b) for a, b, _ in window.compare.agreement} == {("32s", "16s"), ("32s", "8s"), ("16s", "8s")}
    # synced cursor: hovering one pane shows the cursor in all
    window.compare.grid.hovered.emit((12.0, 9.0))
    window.compare.grid._mouse_moved(panes[1].mapViewToScene(panes[1].mapToView(panes[1].boundingRect().center())))
    assert all(p.cursor.isVisible() for p in panes)


def test_skip_view_contributions_sum_to_final(qtbot, window, images):
    _open(qtbot, window, images[1])
    window.actions.views["skips"].trigger()
    qtbot.waitUntil(lambda: window.fusion is not None, timeout=20000)
    maps = window.skips.maps
    assert {"score_fr", "score_pool4c", "score_pool3c", "fuse_pool3", "c:conv7", "c:pool4", "c:pool3"} <= set(maps)
    assert np.allclose(maps["c:sum"].values, maps["final"].values, atol=1e-4 * np.abs(maps["final"].values).max())
    assert maps["score_fr"].stride == 32 and maps["score_pool4c"].stride == 16 and maps["score_pool3c"].stride == 8
    lv = window.skips.levels
    assert window.skips.items["score_fr"].levels is not None and np.allclose(window.skips.items["c:pool3"].levels, (-lv, lv))
    window.skips._hovered((20.0, 15.0))
    assert "conv7 scores" in window.skips.readout.text()


def test_inference_does_not_block_the_event_loop(qtbot, window, images):
    engine = window.service.engine
    original = engine.predict

    def slow(analysis, *args, **kwargs):
        time.sleep(1.0)
        return original(analysis, *args, **kwargs)

    engine.predict = slow
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    window.open_paths([images[2]])
    qtbot.waitUntil(lambda: window.result is not None, timeout=20000)
    timer.stop()
    assert len(ticks) >= 20  # the GUI thread kept running while the model worked


def test_bad_file_shows_message_and_window_keeps_working(qtbot, window, images, tmp_path):
    _open(qtbot, window, images[0])
    before = window.result
    bad = tmp_path / "broken.png"
    bad.write_text("not an image")
    window.open_paths([bad])
    qtbot.waitUntil(lambda: "broken.png" in window.last_error, timeout=20000)
    assert window.result is before
    _open(qtbot, window, images[1])
    assert window.result.path == images[1]


def test_bad_weights_keep_the_loaded_model(qtbot, window, tmp_path):
    meta = window.meta
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"\x80nonsense")
    window.load_model([bad])
    qtbot.waitUntil(lambda: "bad.pth" in window.last_error, timeout=20000)
    assert window.meta is meta


def test_status_bar_reads_the_pixel_under_the_cursor(qtbot, window, images):
    _open(qtbot, window, images[0])
    move(qtbot, window, 25.5, 12.2)  # the mouse over the single view
    qtbot.waitUntil(lambda: "confidence" in window.position_label.text(), timeout=3000)
    text = window.position_label.text()
    assert "x 25" in text and "y 12" in text


def test_run_folder_and_cancel(qtbot, window, images):
    window.open_paths(images)
    qtbot.waitUntil(lambda: window.result is not None, timeout=20000)
    done = []
    window.service.folderDone.connect(lambda ok, bad: done.append((ok, bad)))
    window.actions.plain["run_folder"].trigger()  # Ctrl+R
    qtbot.waitUntil(lambda: bool(done), timeout=30000)
    assert done[0] == (3, 0)
    engine = window.service.engine
    original = engine.predict
    engine.predict = lambda a, *args, **kw: (time.sleep(0.5), original(a, *args, **kw))[1]
    window.service._analyses.clear()
    done.clear()
    view_height = window.centralWidget().height()
    window.actions.plain["run_folder"].trigger()
    row = window.tasks.row("segmenting")
    assert window.tasks.isVisible() and row is not None
    window.actions.plain["run_folder"].trigger()  # a second run while one is going is refused, not queued
    assert len(window.tasks.rows) == 1
    qtbot.wait(100)
    assert window.centralWidget().height() == view_height  # the task row does not push the image up
    row.cancel_button.click()
    assert not row.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: bool(done), timeout=30000)
    assert done[0] == (-1, -1)
    qtbot.waitUntil(lambda: not window.tasks.rows and not window.tasks.isVisible(), timeout=5000)
    qtbot.wait(50)
    assert window.centralWidget().height() == view_height
    _open(qtbot, window, images[1])  # still works after a cancel


def test_a_failed_folder_run_clears_its_progress(qtbot, window, images):
    window.open_paths(images)
    qtbot.waitUntil(lambda: window.result is not None, timeout=20000)
    window.service._analyses.clear()
    window.service.engine.predict = lambda a, *args, **kw: (_ for _ in ()).throw(MemoryError("out of memory"))
    window.actions.plain["run_folder"].trigger()
    qtbot.waitUntil(lambda: "out of memory" in window.last_error, timeout=20000)
    qtbot.waitUntil(lambda: not window.tasks.rows, timeout=5000)
    assert not window.service.folder_running
    window.service.engine = None  # no model: refused at once, and no bar is left behind
    window.actions.plain["run_folder"].trigger()
    assert "No model is loaded" in window.last_error and not window.tasks.rows


def test_next_previous_and_recent(qtbot, window, images):
    window.open_paths([images[0].parent])
    qtbot.waitUntil(lambda: window.result is not None, timeout=20000)
    window.actions.plain["next"].trigger()
    qtbot.waitUntil(lambda: window.result is not None and window.result.path == images[1], timeout=20000)
    window.actions.plain["prev"].trigger()
    qtbot.waitUntil(lambda: window.result is not None and window.result.path == images[0], timeout=20000)
    assert window.recent()[0] == str(images[0])


def test_screenshot_command(tmp_path, model_file, images):
    shot = tmp_path / "shot.png"
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, str(ROOT / "main.py"), "gui", str(images[0]), "--weights", str(model_file),
                           "--view", "compare", "--screenshot", str(shot)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with Image.open(shot) as im:
        assert im.size[0] >= 1280 and im.size[1] >= 800


def test_qt_binding_keeps_none_alive(qtbot):
    """PySide6 6.12.0 dropped a reference to None on every void call, crashing long sessions (pinned <6.12)."""
    from PySide6.QtWidgets import QLabel

    label = QLabel()
    before = sys.getrefcount(None)
    for _ in range(3000):
        label.setText("x")
    assert before - sys.getrefcount(None) < 100


def test_engine_notices_reach_the_status_bar_and_summaries_arrive_off_thread(qtbot, window, images):
    _open(qtbot, window, images[0])
    pred = window.result.predictions["8s"]
    qtbot.waitUntil(lambda: "_summary" in pred.__dict__, timeout=20000)  # computed by the background job
    window.service.engine.on_notice("Out of CUDA memory on a 80×60 image: running it in tiles of 256×256.")
    qtbot.waitUntil(lambda: "running it in tiles" in window.statusBar().currentMessage(), timeout=5000)
    assert pred.pixel_summary(5, 7) == (pytest.approx(float(pred.confidence[5, 7])),
                                        pytest.approx(float(pred.entropy[5, 7])))
