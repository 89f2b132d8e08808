"""The views as a person uses them: skip fusion (class names, panels a variant has), compare with one head,
the colour scale of confidence and entropy (window defects 13 and 14)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPointF, QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog

from app.views.skip_view import HOVER_HINT
from app.window.main_window import MainWindow
from fcn_core import FCNBundle, save_checkpoint
from tests.helpers.models import randomize, tiny_meta
from tests.helpers.mouse import move


def _window(qtbot, tmp_path: Path, variants=("32s", "16s", "8s")) -> MainWindow:
    model = tmp_path / "tiny.pt"
    save_checkpoint(randomize(FCNBundle(tiny_meta(variants=variants, n_class=5))), model)
    image = tmp_path / "img.png"
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)).save(image)
    w = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.resize(1024, 700)
    w.show()
    w.load_model([model])
    qtbot.waitUntil(lambda: w.meta is not None, timeout=20000)
    w.open_paths([image])
    qtbot.waitUntil(lambda: w.result is not None, timeout=20000)
    return w


@pytest.fixture
def window(qtbot, tmp_path):
    w = _window(qtbot, tmp_path)
    yield w
    w.service.runner.wait(10000)


def _hover(qtbot, grid, pane, x: float, y: float) -> None:
    pos = grid.mapFromScene(pane.mapViewToScene(QPointF(x, y)))
    QTest.mouseMove(grid.viewport(), pos)
    qtbot.wait(20)


def _skips(qtbot, w: MainWindow) -> None:
    QTest.keyClick(w, Qt.Key.Key_K)
    qtbot.waitUntil(lambda: w.fusion is not None and w.fusion.variant == w.variant and bool(w.skips.maps),
                    timeout=10000)


def test_skip_readout_names_the_class_and_follows_a_class_change(qtbot, window):
    _skips(qtbot, window)
    skips = window.skips
    _hover(qtbot, skips.grid, skips.panes["final"], 40, 30)
    first = skips.readout.text()
    assert f"“{skips.class_box.currentText()}”" in first and "conv7 scores" in first
    assert skips.class_box.currentText() in skips.title.text()
    skips.class_box.setFocus()
    QTest.keyClick(skips.class_box, Qt.Key.Key_Down)  # the next class, as with the keyboard on the box
    other = skips.class_box.currentText()
    assert f"“{other}”" in skips.readout.text() and skips.readout.text() != first  # no stale numbers
    assert other in skips.title.text()
    x, y = skips._hover  # where the mouse landed, in image pixels
    expected = skips.maps["final"].values[skips.current_class, int(y), int(x)]
    assert f"final: {expected:+.3f}" in skips.readout.text()



def test_skip_readout_reads_only_inside_the_image_and_clears_when_the_mouse_leaves(qtbot, window):
    _skips(qtbot, window)
    skips = window.skips
    pane = skips.panes["final"]
    qtbot.wait(100)  # the layout pass the new maps asked for, before measuring (CI once read 517, then 511)
    grid_height = skips.grid.height()
    _hover(qtbot, skips.grid, pane, 33, 21)  # not where an earlier test left the cursor: a move must happen
    assert "final:" in skips.readout.text()
    qtbot.wait(50)
    assert skips.grid.height() == grid_height  # the readout's lines do not push the maps about
    _hover(qtbot, skips.grid, pane, -6, 30)  # the padded edge cells of the coarse maps reach past the image
    assert skips.readout.text() == HOVER_HINT
    _hover(qtbot, skips.grid, pane, 37, 24)
    assert "final:" in skips.readout.text()
    QApplication.sendEvent(skips.grid, QEvent(QEvent.Type.Leave))  # the mouse leaves the maps
    assert skips.readout.text() == HOVER_HINT


def test_the_status_line_follows_a_head_change_under_a_still_mouse(qtbot, window):
    move(qtbot, window, 30, 20)
    qtbot.waitUntil(lambda: "FCN-8s" in window.position_label.text(), timeout=3000)
    QTest.keyClick(window, Qt.Key.Key_1)  # FCN-32s; the mouse does not move
    assert "FCN-32s" in window.position_label.text() and "FCN-8s" not in window.position_label.text()

def test_skip_view_shows_only_the_panels_a_variant_has(qtbot, window):
    _skips(qtbot, window)
    assert len(window.skips.grid.panes) == 12 and not window.skips.note.isVisible()
    QTest.keyClick(window, Qt.Key.Key_1)  # FCN-32s
    qtbot.waitUntil(lambda: window.fusion is not None and window.fusion.variant == "32s"
                    and "32s" in window.skips.title.text(), timeout=10000)
    shown = set(window.skips.panes)
    assert shown == set(window.skips.maps) and len(shown) < 12
    assert {"score_fr", "final"} <= shown and "score_pool3c" not in shown
    assert window.skips.note.isVisible() and "no skip connections" in window.skips.note.text()
    for pane in window.skips.grid.panes:  # every panel shown has something to show
        assert pane.image_item.image is not None
    QTest.keyClick(window, Qt.Key.Key_3)
    qtbot.waitUntil(lambda: window.fusion is not None and window.fusion.variant == "8s"
                    and len(window.skips.grid.panes) == 12, timeout=10000)
    assert not window.skips.note.isVisible()


def test_skip_grid_and_colour_bar_fit_a_small_window(qtbot, window):
    _skips(qtbot, window)
    qtbot.wait(100)
    grid = window.skips.grid
    visible = grid.viewport().rect()
    for pane in grid.panes:
        r = grid.mapFromScene(pane.sceneBoundingRect()).boundingRect()
        assert visible.contains(r) and r.width() > 40 and r.height() > 30
    bar = grid.mapFromScene(window.skips.colorbar.sceneBoundingRect()).boundingRect()
    assert visible.contains(bar)


def test_compare_with_one_head_says_why_there_is_one_pane(qtbot, tmp_path):
    w = _window(qtbot, tmp_path, variants=("8s",))
    QTest.keyClick(w, Qt.Key.Key_C)
    assert w.view == "compare" and len(w.compare.grid.panes) == 1
    assert w.compare.summary.isVisible() and "one head" in w.compare.summary.text()
    w.service.runner.wait(10000)


def test_confidence_and_entropy_show_a_colour_scale_instead_of_the_legend(qtbot, window):
    assert window.single.scale_mode is None and window.legend.isVisible()
    QTest.keyClick(window, Qt.Key.Key_M)  # cycle overlay: confidence
    assert window.display.mode == "confidence"
    assert window.single.scale.isVisible() and "softmax margin" in window.single.scale_mode
    assert not window.legend.isVisible()
    QTest.keyClick(window, Qt.Key.Key_M)  # entropy
    assert "entropy" in window.single.scale_mode and window.single.scale.scene() is not None
    QTest.keyClick(window, Qt.Key.Key_M)  # back to class labels
    assert window.single.scale_mode is None and window.single.scale.scene() is None
    assert window.legend.isVisible()


def test_the_skip_view_opens_on_the_images_own_class_until_the_person_picks_one(qtbot, window, tmp_path, monkeypatch):
    """Not a fixed class the image may not have (the demo's "wire" on a picture without wires): the class
    covering most of the image after the background; a class the person picks stays across images."""
    _skips(qtbot, window)
    shares = window.result.class_fractions(window.variant, window.meta.n_class)
    assert shares[1:].max() > 0
    assert window.skips.class_box.currentIndex() == 1 + int(np.argmax(shares[1:]))
    assert window.skips.class_box.currentText() in window.skips.title.text()
    window.skips.class_box.setFocus()
    QTest.keyClick(window.skips.class_box, Qt.Key.Key_Up)  # the person's own choice
    picked = window.skips.class_box.currentIndex()
    second = tmp_path / "second.png"
    Image.fromarray(np.random.default_rng(9).integers(0, 255, (80, 70, 3), dtype=np.uint8)).save(second)
    window.open_paths([second])
    qtbot.waitUntil(lambda: window.result is not None and window.result.path == second and window.fusion is not None
                    and bool(window.skips.maps), timeout=20000)
    assert window.skips.class_box.currentIndex() == picked
    # a model with the same classes (what a fine-tune hands back) keeps the pick too
    tuned = tmp_path / "tuned.pt"
    save_checkpoint(randomize(FCNBundle(tiny_meta(n_class=5)), seed=5), tuned)
    before = window.meta
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(tuned)], ""))
    window.actions.plain["load_weights"].trigger()
    qtbot.waitUntil(lambda: window.meta is not before and window.fusion is not None and bool(window.skips.maps),
                    timeout=20000)
    assert window.skips.class_box.currentIndex() == picked


def test_the_skip_view_says_at_once_when_an_image_is_too_large_and_keeps_no_old_maps(qtbot, window, tmp_path):
    _skips(qtbot, window)
    assert window.skips.maps
    window.service.engine.max_pixels = 70 * 70  # set after the first image's maps were made; this one is over it
    big = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 255, (90, 80, 3), dtype=np.uint8)).save(big)
    errors = []
    window.service.failed.connect(errors.append)
    window.open_paths([big])
    qtbot.waitUntil(lambda: window.result is not None and window.result.path == big, timeout=20000)
    qtbot.waitUntil(lambda: "needs an image of at most 4,900 pixels" in window.skips.title.text(), timeout=5000)
    assert "big.png has 7,200" in window.skips.title.text()
    assert not window.skips.maps  # not the previous image's maps under this one's name
    assert not window.skips.grid.isVisible()  # no empty panels and colour bar under the sentence
    qtbot.wait(300)
    assert errors == []  # no error box later
    window.service.engine.max_pixels = 10**7
    QTest.keyClick(window, Qt.Key.Key_PageUp)  # back to the first image: its maps, on a visible grid
    qtbot.waitUntil(lambda: bool(window.skips.maps) and window.skips.grid.isVisible(), timeout=20000)
