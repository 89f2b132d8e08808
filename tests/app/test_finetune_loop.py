"""Issue 18 in the window: the fine-tune dialog through Ctrl+T to a loaded, better model; the per-class table, the
loss curve, the change view, re-segmenting, the folder's own model offered again, the chain of fine-tunes; and
the list ranked by uncertainty with "Next image to correct" (N)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QFileDialog

from app.window.main_window import MainWindow
from fcn_core import Engine, LabelDocument, Workspace, load_checkpoint
from fcn_core.data.scenes import SCENE_CLASSES, SCENE_COLORS, make_scene
from tests.app.test_window_defects import files, open_with_dialog, press, wait_result  # noqa: F401 - fixture
from tests.helpers.mouse import drag


def hue_shifted(seed: int, index: int, size: int = 128):
    """A demo scene with its hues turned 120°: a domain the demo model is poor at."""
    scene = make_scene(seed, index, (size, size))
    hsv = cv2.cvtColor(scene.image, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0].astype(int) + 60) % 180
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), scene.labels


def shifted_folder(root: Path, corrected: int, uncorrected: int = 0) -> Path:
    """Hue-shifted scenes; the first ``corrected`` have their exact labels saved, every pixel verified."""
    folder = root / "shifted"
    folder.mkdir()
    ws = Workspace.beside(folder)
    for i in range(corrected + uncorrected):
        image, labels = hue_shifted(61, i)
        path = folder / f"s{i:02d}.png"
        Image.fromarray(image).save(path)
        if i < corrected:
            ws.save(path, LabelDocument(labels, np.ones(labels.shape, bool), n_class=len(SCENE_CLASSES)),
                    np.asarray(SCENE_COLORS), SCENE_CLASSES)
    return folder


def demo_window(qtbot, root: Path) -> MainWindow:
    w = MainWindow(settings=QSettings(str(root / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    w.actions.plain["load_demo"].trigger()  # Model → Load demo model
    qtbot.waitUntil(lambda: w.meta is not None, timeout=30000)
    return w


def open_folder(qtbot, w, monkeypatch, folder: Path) -> None:
    """File → Open folder… (Ctrl+Shift+O), the folder dialog answering ``folder``."""
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    press(w, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: w.result is not None, timeout=30000)


def finetune_dialog(qtbot, w, steps: int, said: list[str] | None = None):
    press(w, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # Correct → Fine-tune on my corrections…
    dialog = w.tuning.dialogs[-1]
    assert dialog.isVisible()
    QTest.mouseClick(dialog.advanced, Qt.MouseButton.LeftButton)  # the person opens Advanced and sets fewer steps
    assert dialog.advanced_body.isVisible()
    dialog.steps.setValue(steps)
    dialog.start_button.click()
    if said is not None:
        said.append(dialog.label.text())  # what it says while it exports, before the first step
    # the curve shown at a readable height, and the dialog still fits a 1024×700 screen
    assert 160 <= dialog.plot.height() <= 240 and dialog.height() < 600
    assert dialog.plot.geometry().bottom() < dialog.cancel_button.geometry().top()
    qtbot.waitUntil(lambda: dialog.result is not None or "failed" in dialog.label.text(), timeout=300000)
    assert dialog.result is not None, dialog.label.text()
    return dialog


@pytest.mark.slow
def test_ctrl_t_fine_tunes_to_a_better_model_and_everything_after_it(qtbot, tmp_path, monkeypatch, capsys):
    folder = shifted_folder(tmp_path, corrected=10, uncorrected=3)
    w = demo_window(qtbot, tmp_path)
    open_folder(qtbot, w, monkeypatch, folder)
    demo = w.service.engine
    dialog = finetune_dialog(qtbot, w, steps=150)
    result = dialog.result
    # better on the held-out corrections, every head, and loaded as this folder's model
    assert result.held_out_images == 2 and result.train_images == 8
    assert result.after["8s"]["mean_iu"] > result.before["8s"]["mean_iu"] + 0.05
    assert all(result.after[v]["mean_iu"] >= result.before[v]["mean_iu"] for v in ("32s", "16s", "8s"))
    qtbot.waitUntil(lambda: w.service.weights == [result.checkpoint], timeout=30000)
    assert w.settings.folder_model(folder) == result.checkpoint
    # the loss curve and the before → after table per class
    xs, ys = dialog.curve.getData()
    assert len(xs) == 150 and np.isfinite(ys).all()
    table = dialog.table
    assert table.rowCount() == 1 + len(SCENE_CLASSES) and table.columnCount() == 3
    assert table.verticalHeaderItem(3).text() == "wire"
    b, a = result.before["8s"]["mean_iu"], result.after["8s"]["mean_iu"]
    assert table.item(0, 2).text() == f"{100 * b:.1f} → {100 * a:.1f}"
    # what changed on the current image, against the model it started from
    dialog.changes_button.click()
    changes = w.tuning.dialogs[-1]
    assert changes is not dialog, w.last_error
    qtbot.waitUntil(lambda: changes.changes is not None, timeout=30000)
    assert 0 < changes.changes.share < 1 and "changed class" in changes.summary.text()
    tuned = Engine(load_checkpoint(result.checkpoint)[0], "cpu")
    before = demo.predict(demo.cache_for(changes.image), ["8s"])["8s"].labels
    after = tuned.predict(tuned.cache_for(changes.image), ["8s"])["8s"].labels
    assert np.array_equal(changes.changes.changed, before != after)
    changes.close()
    # re-segment the folder with it: the folder run ranks every image
    dialog.resegment_button.click()
    qtbot.waitUntil(lambda: w.files.measured == 13, timeout=60000)
    dialog.close()
    # a second fine-tune starts from the first (it measures the first on the same held-out images); five steps
    # beat no check of it, so the dialog says nothing changed, saves nothing, and the first stays in use
    second_dialog = finetune_dialog(qtbot, w, steps=5)
    second = second_dialog.result
    assert {v: m["mean_iu"] for v, m in second.before.items()} == \
        pytest.approx({v: m["mean_iu"] for v, m in result.after.items()})
    assert second.kept_step == 0 and second.checkpoint is None and "changed nothing" in second_dialog.label.text()
    qtbot.wait(300)
    assert w.service.weights == [result.checkpoint]
    # `fcn-workbench finetune` from the first model writes its file all the same, and `info` shows the chain
    from fcn_core.cli import main as cli

    chained = tmp_path / "second.pt"
    assert cli(["finetune", str(folder), "--weights", str(result.checkpoint), "--iterations", "5",
                "--out", str(chained), "--device", "cpu"]) == 0
    assert cli(["info", "--weights", str(chained)]) == 0
    info = capsys.readouterr().out
    assert f"initialised from {result.checkpoint.name}" in info and "initialised from demo_model.pt" in info
    w.close()
    # the folder opened again in a new window: its own model is offered, and loads on "Load it"
    again = demo_window(qtbot, tmp_path)
    open_folder(qtbot, again, monkeypatch, folder)
    assert again.offer_bar.isVisible() and result.checkpoint.name in again.offer_bar.text.text()
    again.offer_bar.load_button.click()
    qtbot.waitUntil(lambda: again.service.weights == [result.checkpoint], timeout=30000)
    assert not again.offer_bar.isVisible()


def test_one_corrected_image_says_there_is_no_held_out_measure(qtbot, tmp_path, files, monkeypatch):  # noqa: F811
    from tests.app.test_window_defects import corrected_window

    w = corrected_window(qtbot, tmp_path, files, monkeypatch)
    said: list[str] = []
    dialog = finetune_dialog(qtbot, w, steps=3, said=said)
    assert said == ["Exporting the correction…"]  # not "measuring the held-out ones": there are none
    assert "nothing is held out" in dialog.label.text() and dialog.table is None
    # a three-step curve is labelled in whole steps
    for _spacing, values in dialog.plot.getAxis("bottom").tickValues(0.8, 3.2, 300):
        assert all(float(v).is_integer() for v in values)
    assert any(values for _spacing, values in dialog.plot.getAxis("bottom").tickValues(0.8, 3.2, 300))
    assert dialog.result.kept_step == 3 and dialog.result.after == {}


def test_the_list_ranks_images_by_uncertainty_and_n_opens_the_least_sure_uncorrected(qtbot, tmp_path, monkeypatch):
    folder = shifted_folder(tmp_path, corrected=0, uncorrected=6)
    w = demo_window(qtbot, tmp_path)
    open_folder(qtbot, w, monkeypatch, folder)
    opened = list(w.files.paths)
    press(w, Qt.Key.Key_N)  # nothing ranked yet: a sentence says how
    assert "Run all images" in w.statusBar().currentMessage()
    press(w, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)  # File → Run all images
    qtbot.waitUntil(lambda: w.files.measured == 6, timeout=60000)
    values = dict(w.files._uncertainty)
    for measure in ("entropy", "margin", "disagreement"):
        w.actions.sorts[measure].trigger()  # File → Sort images → Most uncertain first: …
        ranked = sorted(opened, key=lambda p: -values[p].value(measure))
        assert w.files.paths == ranked
        assert [w.files.item(i).text().split("\n")[0] for i in range(6)] == [p.name for p in ranked]
    w.actions.sorts["entropy"].trigger()
    top = w.files.paths[0]
    press(w, Qt.Key.Key_N)  # Next image to correct
    wait_result(qtbot, w, top)
    assert w.files.currentRow() == 0
    # correct it: N then goes to the next most uncertain one
    press(w, Qt.Key.Key_E)
    qtbot.waitUntil(lambda: w.editor.doc is not None, timeout=10000)
    press(w, Qt.Key.Key_2)
    drag(qtbot, w, [(30, 30), (34, 30)])
    press(w, Qt.Key.Key_E)  # leaving edit mode saves
    qtbot.waitUntil(lambda: top in w.files.corrected_paths(), timeout=10000)
    press(w, Qt.Key.Key_N)
    wait_result(qtbot, w, w.files.paths[1])
    w.actions.sorts["opened"].trigger()
    assert w.files.paths == opened


def test_the_demo_models_info_fits_a_small_screen_with_its_lineage_behind_details(qtbot, tmp_path):
    w = demo_window(qtbot, tmp_path)
    press(w, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)  # Model → Model info
    box = w._messages[-1]
    assert box.isVisible() and "metrics 8s: mean IU 90.4" in box.text()
    assert "initialised from" not in box.text() and box.detailedText().count("initialised from") >= 5
    assert box.sizeHint().height() < 600  # OK stays on a 1024×700 screen
