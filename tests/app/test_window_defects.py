"""The defects a new user met in the real window (issue 17), each through the path a person takes: the menu
action or its key, the mouse on the view, the dialog's own buttons. Defects 1, 3, 5, 7, 10, 11, 13–16 have
their tests beside the code they concern (test_every_action, test_gui, test_views, test_file_list, the CLI
and storage tests); these are the rest."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMenu, QFileDialog, QMessageBox

from app.window.main_window import MainWindow
from fcn_core import SAMPLES, FCNBundle, LabelDocument, Workspace, class_fractions, save_checkpoint
from fcn_core.model.palette import VOC_CLASSES
from tests.helpers.models import randomize, tiny_meta
from tests.helpers.mouse import click, drag, move

N_CLASS = 5


@pytest.fixture
def files(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for i in range(2):
        img = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
        img[15:45, 20:60] = (230, 40, 40)
        Image.fromarray(img).save(folder / f"p{i}.png")
    model = tmp_path / "tiny.pt"
    save_checkpoint(randomize(FCNBundle(tiny_meta(n_class=N_CLASS))), model)
    return folder, model


def window(qtbot, root: Path, model: Path, size=(1280, 800)) -> MainWindow:
    w = MainWindow(settings=QSettings(str(root / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    w.load_model([model])
    qtbot.waitUntil(lambda: w.meta is not None, timeout=20000)
    return w


def open_with_dialog(qtbot, w, monkeypatch, paths) -> None:
    """File → Open images… (Ctrl+O), the file dialog answering ``paths``."""
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(p) for p in paths], ""))
    QTest.keyClick(w, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)


def wait_result(qtbot, w, path) -> None:
    qtbot.waitUntil(lambda: w.result is not None and w.result.path == Path(path), timeout=30000)


def press(w, key, mods=Qt.KeyboardModifier.NoModifier) -> None:
    """A key pressed in the window (a person clicks it first when a dialog had the focus)."""
    if not w.isActiveWindow():
        w.activateWindow()
        w.windowHandle().requestActivate()
        assert QTest.qWaitForWindowActive(w, 2000)
    QTest.keyClick(w, key, mods)


def start_editing(qtbot, w) -> None:
    press(w, Qt.Key.Key_E)
    assert w.editing
    qtbot.waitUntil(lambda: w.editor.doc is not None or bool(w.edit_panel.status.text()), timeout=10000)


def dab(qtbot, w, cls_key, x=40, y=30) -> None:
    press(w, cls_key)  # the number key picks the class
    drag(qtbot, w, [(x, y), (x + 2, y)])


def model_with_classes(tmp_path: Path, name: str, classes: tuple[str, ...]) -> Path:
    base = tiny_meta(n_class=len(classes))
    path = tmp_path / f"{name}.pt"
    save_checkpoint(randomize(FCNBundle(dataclasses.replace(base, classes=classes)), seed=2), path)
    return path


# -- 2. saved corrections keep their meaning under another model -------------------------------------------
def test_labels_of_other_classes_are_refused_and_nothing_is_rewritten(qtbot, tmp_path, files, monkeypatch):
    folder, model = files
    w = window(qtbot, tmp_path, model)
    image = folder / "p0.png"
    open_with_dialog(qtbot, w, monkeypatch, [image])
    wait_result(qtbot, w, image)
    start_editing(qtbot, w)
    dab(qtbot, w, Qt.Key.Key_3)
    assert w.editor.doc.labels[30, 41] == 3
    press(w, Qt.Key.Key_E)  # leaving edit mode saves
    ws = Workspace.beside(folder)
    before = {p: ws_file.read_bytes() for p, ws_file in
              (("label", ws.label_path(image)), ("state", ws.state_path(image)))}

    voc = model_with_classes(tmp_path, "voc", VOC_CLASSES)
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(voc)], ""))
    press(w, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)  # Model → Load weights…
    qtbot.waitUntil(lambda: w.meta is not None and w.meta.n_class == 21, timeout=30000)
    wait_result(qtbot, w, image)
    start_editing(qtbot, w)
    said = w.edit_panel.status.text()
    assert w.editor.doc is None, "the labels of c0…c4 were opened under the VOC classes"
    assert "c3" in said and "aeroplane" in said, said  # both class lists are named
    dab(qtbot, w, Qt.Key.Key_1)  # painting does nothing: there is no document, and the window says why
    assert "Nothing was painted" in w.statusBar().currentMessage() and "p0.png" in w.statusBar().currentMessage()
    w.editor.save()
    assert {"label": ws.label_path(image).read_bytes(), "state": ws.state_path(image).read_bytes()} == before


def test_labels_of_the_same_classes_in_another_order_are_mapped_by_name(qtbot, tmp_path, files, monkeypatch):
    folder, model = files
    w = window(qtbot, tmp_path, model)
    image = folder / "p0.png"
    open_with_dialog(qtbot, w, monkeypatch, [image])
    wait_result(qtbot, w, image)
    start_editing(qtbot, w)
    dab(qtbot, w, Qt.Key.Key_3)
    press(w, Qt.Key.Key_E)
    reordered = model_with_classes(tmp_path, "reordered", ("c3", "c0", "c1", "c2", "c4"))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(reordered)], ""))
    press(w, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: w.meta is not None and w.meta.classes[0] == "c3", timeout=30000)
    wait_result(qtbot, w, image)
    start_editing(qtbot, w)
    assert w.editor.doc is not None and w.editor.doc.labels[30, 41] == 0  # c3 is class 0 of this model
    assert "other classes" in w.statusBar().currentMessage()
    dab(qtbot, w, Qt.Key.Key_4, x=20, y=10)  # c4, index 4 in both
    press(w, Qt.Key.Key_E)
    saved = Workspace.beside(folder).load_labels(image, (60, 80), tiny_meta().classes)  # read as c0…c4 again
    assert saved.labels[30, 41] == 3 and saved.labels[10, 21] == 4


# -- 4. a big image shows at once; its labels follow with tile progress and Cancel ---------------------------
def big_image(tmp_path: Path) -> Path:
    rng = np.random.default_rng(5)
    path = tmp_path / "big.png"
    Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)).save(path)
    return path


def slow_tiles(w, monkeypatch, seconds: float) -> None:
    """The engine runs this window's images in 256-px tiles, each taking ``seconds`` more (a big image's pace)."""
    engine = w.service.engine
    engine.max_pixels, engine.tile = 10_000, 256
    original = engine._tiled

    def tiled(image, variants, tile, progress=None):
        def slow(done, total):
            time.sleep(seconds)
            if progress is not None:
                progress(done, total)
        return original(image, variants, tile, slow)

    monkeypatch.setattr(engine, "_tiled", tiled)


def test_a_big_image_shows_at_once_and_its_labels_follow_with_tile_progress(qtbot, tmp_path, files, monkeypatch):
    folder, model = files
    w = window(qtbot, tmp_path, model)
    small = folder / "p0.png"
    open_with_dialog(qtbot, w, monkeypatch, [small])
    wait_result(qtbot, w, small)
    slow_tiles(w, monkeypatch, 0.4)
    big = big_image(tmp_path)
    open_with_dialog(qtbot, w, monkeypatch, [big])
    # the new image replaces the old one at once (no old overlay under a new file name), its labels follow
    qtbot.waitUntil(lambda: w.single.pane.image_item.image is not None
                    and w.single.pane.image_item.image.shape[:2] == (300, 400), timeout=10000)
    assert w.result is None and w.single.pane.overlay_item.image is None
    assert w.legend.item(0).text() == "c0"  # no class shares of the previous image beside the new one
    row = w.tasks.row("opening")
    qtbot.waitUntil(lambda: "segmenting" in row.bar.format() and "tiles" in row.bar.format(), timeout=10000)
    assert " of " in row.bar.format() and row.bar.maximum() > 1
    wait_result(qtbot, w, big)
    assert w.single.pane.overlay_item.image.shape == (300, 400) and w.tasks.row("opening") is None


def test_cancel_stops_a_big_image_and_the_window_goes_on(qtbot, tmp_path, files, monkeypatch):
    folder, model = files
    w = window(qtbot, tmp_path, model)
    slow_tiles(w, monkeypatch, 0.4)
    big = big_image(tmp_path)
    open_with_dialog(qtbot, w, monkeypatch, [big])
    qtbot.waitUntil(lambda: w.tasks.row("opening") is not None and "tiles" in w.tasks.row("opening").bar.format(),
                    timeout=10000)
    assert "Segmenting big.png" in w.compare.summary.text() and "Segmenting big.png" in w.skips.title.text()
    w.tasks.row("opening").cancel_button.click()
    qtbot.waitUntil(lambda: "Stopped segmenting big.png" in w.statusBar().currentMessage(), timeout=10000)
    assert w.result is None and w.tasks.row("opening") is None
    assert "was stopped; open it again" in w.compare.summary.text()  # the empty views say why
    assert "was stopped; open it again" in w.skips.title.text()
    monkeypatch.undo()  # the engine's own pace again
    small = folder / "p1.png"
    open_with_dialog(qtbot, w, monkeypatch, [small])
    wait_result(qtbot, w, small)
    press(w, Qt.Key.Key_C)  # the compare view: its answers, not the old sentence
    assert "Agreement" in w.compare.summary.text()



def test_a_stroke_while_the_next_image_segments_or_after_a_cancel_lands_in_no_image(qtbot, tmp_path, files, monkeypatch):
    """Painting on the image on screen must never write into the previous image's labels: the editor leaves
    it the moment another image is shown, and a press meanwhile says why nothing is painted."""
    folder, _ = files
    w = corrected_window(qtbot, tmp_path, files, monkeypatch)  # p0.png, one dab of class 2
    first = folder / "p0.png"
    ws = Workspace.beside(folder)
    qtbot.waitUntil(lambda: ws.has(first), timeout=5000)
    saved = ws.load(first, (60, 80), N_CLASS)[0].copy()
    slow_tiles(w, monkeypatch, 0.4)
    big = big_image(tmp_path)
    open_with_dialog(qtbot, w, monkeypatch, [big])
    assert w.editor.doc is None and "p0.png" not in w.edit_panel.status.text()
    qtbot.waitUntil(lambda: w.tasks.row("opening") is not None and "tiles" in w.tasks.row("opening").bar.format(),
                    timeout=10000)
    dab(qtbot, w, Qt.Key.Key_3, 20, 20)  # while it segments
    assert "Nothing was painted: big.png is not segmented yet" in w.statusBar().currentMessage()
    w.tasks.row("opening").cancel_button.click()
    qtbot.waitUntil(lambda: "Stopped segmenting big.png" in w.statusBar().currentMessage(), timeout=10000)
    dab(qtbot, w, Qt.Key.Key_3, 20, 20)  # after the cancel, on the big image still on screen
    assert w.editor.doc is None and "Nothing was painted" in w.statusBar().currentMessage()
    w.editor.save()
    assert np.array_equal(ws.load(first, (60, 80), N_CLASS)[0], saved) and not ws.has(big)

# -- 6. the export dialog -------------------------------------------------------------------------------------
def corrected_window(qtbot, tmp_path, files, monkeypatch, paths=None):
    folder, model = files
    w = window(qtbot, tmp_path, model)
    open_with_dialog(qtbot, w, monkeypatch, paths or [folder])
    wait_result(qtbot, w, folder / "p0.png")
    start_editing(qtbot, w)
    dab(qtbot, w, Qt.Key.Key_2)
    return w


def export_dialog(qtbot, w):
    w.actions.plain["export"].trigger()  # Correct → Export dataset… (Ctrl+E: test_every_action)
    dialog = w.corrections.dialogs[-1]
    assert dialog.isVisible()
    return dialog


def test_export_dialog_starts_beside_the_images_and_never_mixes_a_dataset_into_other_files(
        qtbot, tmp_path, files, monkeypatch):
    folder, _ = files
    w = corrected_window(qtbot, tmp_path, files, monkeypatch)
    dialog = export_dialog(qtbot, w)
    assert Path(dialog.folder.text()) == folder.parent / "imgs_dataset"
    busy = tmp_path / "busy"
    busy.mkdir()
    for i in range(50):
        (busy / f"f{i}.txt").write_text("x")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(busy))
    dialog.browse.click()
    assert dialog.folder.text() == str(busy)
    assert not dialog.export_button.isEnabled() and "50 other file" in dialog.problem.text()
    dialog.replace.click()  # replacing a dataset never means writing among other files
    assert not dialog.export_button.isEnabled()
    assert sorted(p.name for p in busy.iterdir()) == sorted(f"f{i}.txt" for i in range(50))

    new = tmp_path / "not" / "there" / "yet"  # a new folder's name, typed
    dialog.folder.clear()
    QTest.keyClicks(dialog.folder, str(new))
    assert dialog.export_button.isEnabled() and dialog.problem.text() == ""
    dialog.export_button.click()
    qtbot.waitUntil(lambda: (new / "ImageSets/Segmentation/trainval.txt").exists(), timeout=20000)
    qtbot.waitUntil(lambda: w.tasks.row("exporting") is None, timeout=20000)

    again = export_dialog(qtbot, w)  # the same folder again: it holds a dataset now
    assert again.folder.text() == str(new)  # where this folder's last export went is proposed again
    assert not again.export_button.isEnabled() and "Replace the dataset there" in again.problem.text()
    qtbot.wait(50)  # the sentence wraps: every line of it shows
    assert again.problem.height() >= again.problem.heightForWidth(again.problem.width())
    again.replace.click()
    assert again.export_button.isEnabled()
    again.export_button.click()
    qtbot.waitUntil(lambda: w.tasks.row("exporting") is None and "Export" in w.statusBar().currentMessage(),
                    timeout=20000)
    assert (new / "ImageSets/Segmentation/trainval.txt").exists()


def test_export_of_the_bundled_samples_is_proposed_outside_the_installation(qtbot, tmp_path, files, monkeypatch):
    _, model = files
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_DOCUMENTS_DIR", str(tmp_path / "docs"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    w = window(qtbot, tmp_path, model)
    sample = sorted(SAMPLES.glob("*.jpg"))[0]
    open_with_dialog(qtbot, w, monkeypatch, [sample])
    wait_result(qtbot, w, sample)
    dialog = export_dialog(qtbot, w)
    proposed = Path(dialog.folder.text())
    assert not proposed.resolve().is_relative_to(SAMPLES.parent.resolve().parent), proposed
    assert proposed.name == f"{SAMPLES.name}_dataset"


# -- 8. in edit mode the legend counts the labels on screen ------------------------------------------------
def test_the_legend_counts_the_labels_being_edited(qtbot, tmp_path, files, monkeypatch):
    w = corrected_window(qtbot, tmp_path, files, monkeypatch)
    press(w, Qt.Key.Key_BracketRight)  # a bigger brush: the shares move visibly
    for _ in range(6):
        press(w, Qt.Key.Key_BracketRight)
    dab(qtbot, w, Qt.Key.Key_4, x=30, y=30)
    shares = class_fractions(w.editor.doc.labels, N_CLASS)
    expected = f"c4  —  {100 * shares[4]:.1f} %"
    qtbot.waitUntil(lambda: w.legend.item(4).text() == expected, timeout=3000)
    prediction = class_fractions(w.result.predictions[w.variant].labels, N_CLASS)
    assert abs(shares[4] - prediction[4]) > 0.001  # the test tells the two apart


def labels_on_screen(w) -> np.ndarray | None:
    """The labels the single view draws: the label layer (edits, saved corrections) above the prediction."""
    view = w.single
    return view.layer.labels if view.layer.isVisible() else view.pane.overlay_item.image


# -- 9. saved corrections: marked in the list, shown after a restart, the edit panel about this image -------
def test_saved_corrections_after_a_restart(qtbot, tmp_path, files, monkeypatch):
    folder, model = files
    w = corrected_window(qtbot, tmp_path, files, monkeypatch)
    first = folder / "p0.png"
    assert w.edit_panel.status.text() == "editing p0.png"
    press(w, Qt.Key.Key_PageDown)  # the next image: the first one's edits are saved on the way
    wait_result(qtbot, w, folder / "p1.png")
    qtbot.waitUntil(lambda: w.editor.doc is not None, timeout=5000)
    assert w.edit_panel.status.text() == "editing p1.png"  # not "saved p0.png"
    assert "% verified" in w.files.item(0).text() and "% verified" not in w.files.item(1).text()  # p0 is marked
    saved = w.editor.workspace(first).load_labels(first, (60, 80), w.meta.classes).labels
    press(w, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert not w.isVisible()

    again = window(qtbot, tmp_path, model)  # the same settings: a restart
    open_with_dialog(qtbot, again, monkeypatch, [folder])
    wait_result(qtbot, again, first)
    assert "% verified" in again.files.item(0).text()
    assert "% verified" not in again.files.item(1).text()
    assert not again.editing and again.actions.plain["show_corrections"].isChecked()
    qtbot.waitUntil(lambda: np.array_equal(labels_on_screen(again), saved), timeout=5000)
    assert not np.array_equal(saved, again.result.predictions[again.variant].labels)
    shares = class_fractions(saved, N_CLASS)  # the legend and the status line read what is on screen
    assert again.legend.item(2).text() == f"c2  —  {100 * shares[2]:.1f} %"
    move(qtbot, again, 41, 30)
    qtbot.waitUntil(lambda: f"label: c{saved[30, 41]} (saved)" in again.position_label.text(), timeout=3000)
    status = again.statusBar()
    assert status.currentMessage().startswith("Showing your saved corrections of p0.png.")
    press(again, Qt.Key.Key_1)  # FCN-32s: the overlay stays the corrections, and the window says why
    assert again.variant == "32s" and np.array_equal(labels_on_screen(again), saved)
    assert "FCN-32s's prediction is under them: L shows it." in status.currentMessage()
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(model)], ""))
    press(again, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)  # Model → Load weights…: said, and kept said
    qtbot.waitUntil(lambda: status.currentMessage().startswith(f"Loaded {model.name}"), timeout=30000)
    wait_result(qtbot, again, first)
    qtbot.waitUntil(lambda: np.array_equal(labels_on_screen(again), saved), timeout=5000)
    assert status.currentMessage().startswith(f"Loaded {model.name}")  # not the corrections' line again
    press(again, Qt.Key.Key_L)  # Show saved corrections off: the prediction
    prediction = again.result.predictions[again.variant].labels
    qtbot.waitUntil(lambda: np.array_equal(labels_on_screen(again), prediction), timeout=5000)
    assert again.legend.item(2).text() == f"c2  —  {100 * class_fractions(prediction, N_CLASS)[2]:.1f} %"
    assert not status.currentMessage().startswith("Showing your saved corrections")  # no stale line


# -- 12. from 1024×700 up, everything a person needs is on screen -------------------------------------------
def visible_in(toolbar, action) -> bool:
    button = toolbar.widgetForAction(action)
    return button is not None and button.isVisible() and toolbar.rect().contains(button.geometry())


@pytest.mark.parametrize("size", [(1024, 700), (1400, 900)])
def test_small_screens_keep_the_images_list_and_undo_redo(qtbot, tmp_path, files, monkeypatch, size):
    folder, model = files
    w = window(qtbot, tmp_path, model, size=size)
    open_with_dialog(qtbot, w, monkeypatch, [folder])
    wait_result(qtbot, w, folder / "p0.png")
    viewing = w.single.width()
    start_editing(qtbot, w)
    qtbot.wait(50)
    assert w.width() <= size[0] + 1 and w.files.width() >= 150, w.files.width()
    assert w.single.width() >= viewing - 20  # the edit panel does not widen its dock at the image's cost
    correct = w.toolbars["correct"]
    assert visible_in(correct, w.undo_action) and visible_in(correct, w.redo_action)
    for action in w.actions.tools.values():
        assert visible_in(correct, action), action.text()
    press(w, Qt.Key.Key_K)  # the skip view: every panel of the finest head and the colour bar inside the window
    qtbot.waitUntil(lambda: w.fusion is not None and bool(w.skips.maps), timeout=20000)
    qtbot.wait(100)
    grid = w.skips.grid
    visible = grid.viewport().rect()
    assert w.rect().contains(grid.mapTo(w, visible.bottomRight()))
    for item in [*(pane for pane in grid.panes), w.skips.colorbar]:
        r = grid.mapFromScene(item.sceneBoundingRect()).boundingRect()
        assert visible.contains(r) and r.width() > 30 and r.height() > 25, r


# -- 17. the bundled samples are never written into; where corrections go is said ---------------------------
def test_corrections_of_the_samples_go_to_the_users_data_folder(qtbot, tmp_path, files, monkeypatch):
    _, model = files
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    before = sorted(p.relative_to(SAMPLES) for p in SAMPLES.rglob("*"))
    w = window(qtbot, tmp_path, model)
    sample = sorted(SAMPLES.glob("*.jpg"))[0]
    open_with_dialog(qtbot, w, monkeypatch, [sample])
    said = w.statusBar().currentMessage()
    assert "part of the installation" in said and str(tmp_path / "data") in said, said
    wait_result(qtbot, w, sample)
    start_editing(qtbot, w)
    dab(qtbot, w, Qt.Key.Key_1, x=50, y=50)
    press(w, Qt.Key.Key_E)
    ws = w.editor.workspace(sample)
    assert ws.root.is_relative_to(tmp_path / "data") and ws.label_path(sample).exists()
    assert sorted(p.relative_to(SAMPLES) for p in SAMPLES.rglob("*")) == before


# -- issue 22 in the window: an image whose answers do not fit in memory is refused in one sentence ------------
def test_an_image_too_large_for_memory_is_refused_in_one_sentence_and_the_window_goes_on(
        qtbot, tmp_path, files, monkeypatch):
    import fcn_core.memory

    folder, model = files
    w = window(qtbot, tmp_path, model)
    big = tmp_path / "wide.png"
    Image.fromarray(np.zeros((1500, 1500, 3), np.uint8)).save(big)
    monkeypatch.setattr(fcn_core.memory, "free_bytes", lambda: 60_000_000)  # 60 MB left for this process
    open_with_dialog(qtbot, w, monkeypatch, [big])
    qtbot.waitUntil(lambda: "1500×1500" in (w.last_error or ""), timeout=20000)
    assert "\n" not in w.last_error and "memory" in w.last_error and "MB" in w.last_error
    assert w.result is None
    monkeypatch.setattr(fcn_core.memory, "free_bytes", lambda: None)
    small = folder / "p1.png"
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(small)], ""))
    box = next(m for m in w._messages if m.isVisible())
    box.button(QMessageBox.StandardButton.Ok).click()  # the person reads the sentence and clicks OK
    press(w, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    wait_result(qtbot, w, small)


def test_the_status_line_follows_a_fill_under_the_cursor(qtbot, tmp_path, files, monkeypatch):
    """After a flood fill the status line still named the old class at the filled point until the mouse moved."""
    w = corrected_window(qtbot, tmp_path, files, monkeypatch)
    press(w, Qt.Key.Key_G)  # flood fill
    press(w, Qt.Key.Key_4)
    move(qtbot, w, 5, 5)
    qtbot.waitUntil(lambda: "label: " in w.position_label.text(), timeout=3000)
    assert "label: c4" not in w.position_label.text()
    click(qtbot, w, 5, 5)
    assert w.editor.doc.labels[5, 5] == 4
    assert "label: c4 (verified)" in w.position_label.text()


# -- a fine-tune that did worse on the held-out corrections is not loaded behind the person's back ---------
def test_finetune_before_any_correction_says_what_to_do_first(qtbot, tmp_path, files, monkeypatch):
    """Ctrl+T on a folder with nothing corrected opens no dialog (it offered Start with 0 images) and says why."""
    folder, model = files
    w = window(qtbot, tmp_path, model)
    open_with_dialog(qtbot, w, monkeypatch, [folder])
    wait_result(qtbot, w, folder / "p0.png")
    press(w, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # Correct → Fine-tune on my corrections…
    assert not w.tuning.dialogs
    assert f"No image in {folder.name} has saved corrections yet" in w.last_error


def test_the_nothing_corrected_report_closes_once_a_correction_is_saved(qtbot, tmp_path, files, monkeypatch):
    """The report box is not modal, so the person corrects with it still open: after the first saved stroke
    it no longer describes the folder and goes (found driving the window under Xvfb); Ctrl+T then trains."""
    folder, model = files
    w = window(qtbot, tmp_path, model)
    open_with_dialog(qtbot, w, monkeypatch, [folder])
    wait_result(qtbot, w, folder / "p0.png")
    press(w, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # Correct → Fine-tune on my corrections…
    said = [m for m in w._messages if m.isVisible() and "has saved corrections yet" in m.text()]
    assert len(said) == 1
    start_editing(qtbot, w)
    dab(qtbot, w, Qt.Key.Key_2)
    qtbot.waitUntil(lambda: Workspace.beside(folder).has(folder / "p0.png"), timeout=10000)
    qtbot.waitUntil(lambda: not said[0].isVisible(), timeout=5000)
    press(w, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert w.tuning.dialogs and w.tuning.dialogs[-1].isVisible()


def test_finetune_counts_what_it_trains_on(qtbot, tmp_path, files, monkeypatch):
    """The dialog's count is the folder's images with saved corrections, as the fine-tune's export reads
    them, not the images opened in the list: here one is open and two are corrected."""
    folder, _ = files
    meta = tiny_meta(n_class=N_CLASS)
    Workspace.beside(folder).save(folder / "p1.png", LabelDocument(np.ones((60, 80), np.uint8), n_class=N_CLASS),
                                  np.asarray(meta.colors), meta.classes)
    w = corrected_window(qtbot, tmp_path, files, monkeypatch, paths=[folder / "p0.png"])
    assert w.files.paths == [folder / "p0.png"]
    press(w, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # Correct → Fine-tune on my corrections…
    dialog = w.tuning.dialogs[-1]
    assert dialog.isVisible() and "the 2 corrected images of" in dialog.intro.text()


@pytest.mark.parametrize("after_iu", [0.9, 0.3])
def test_finetune_loads_its_model_only_when_it_did_not_do_worse(qtbot, tmp_path, files, monkeypatch, after_iu):
    import fcn_core.training.finetune as finetune_module
    from fcn_core.training.finetune import FineTuneResult

    w = corrected_window(qtbot, tmp_path, files, monkeypatch)
    new = tmp_path / "finetuned.pt"
    save_checkpoint(randomize(FCNBundle(tiny_meta(n_class=N_CLASS)), seed=7), new)
    before = {v: {"mean_iu": 0.5, "per_class_iu": [0.5] * N_CLASS} for v in ("32s", "16s", "8s")}
    after = {v: {"mean_iu": after_iu, "per_class_iu": [after_iu] * N_CLASS} for v in ("32s", "16s", "8s")}
    monkeypatch.setattr(finetune_module, "finetune_on_corrections",
                        lambda *a, **k: FineTuneResult(new, before, after, 100))
    loaded = w.service.engine
    press(w, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # Correct → Fine-tune on my corrections…
    dialog = w.tuning.dialogs[-1]
    dialog.start_button.click()
    qtbot.waitUntil(lambda: "Saved finetuned.pt" in dialog.label.text(), timeout=20000)
    assert dialog.label.height() >= dialog.label.heightForWidth(dialog.label.width())  # every line shows
    if after_iu > 0.5:
        qtbot.waitUntil(lambda: w.service.engine is not loaded, timeout=20000)
        assert not dialog.use_anyway.isVisible()
        return
    assert "did worse" in dialog.label.text() and dialog.table.item(0, 2).text() == "50.0 → 30.0"
    qtbot.wait(300)
    assert w.service.engine is loaded and dialog.use_anyway.isVisible()
    dialog.use_anyway.click()  # the person wants it all the same
    qtbot.waitUntil(lambda: w.service.engine is not loaded, timeout=20000)



@pytest.mark.parametrize("held_out_iu", [0.5, 1.0])
def test_a_finetune_that_kept_the_start_says_nothing_changed_and_loads_nothing(qtbot, tmp_path, files, monkeypatch,
                                                                                held_out_iu):
    import fcn_core.training.finetune as finetune_module
    from fcn_core.training.finetune import FineTuneResult

    w = corrected_window(qtbot, tmp_path, files, monkeypatch)
    metrics = {v: {"mean_iu": held_out_iu, "per_class_iu": [held_out_iu] * N_CLASS} for v in ("32s", "16s", "8s")}
    checks = [(0, {v: held_out_iu for v in metrics}), (50, {v: 0.4 for v in metrics}), (100, {v: 0.45 for v in metrics})]
    asked = {}

    def finetune(*a, **k):  # what the real one does with save_unchanged=False when the start wins: no file
        asked.update(k)
        return FineTuneResult(None, metrics, metrics, 100, 0, [1.0] * 100, checks)

    monkeypatch.setattr(finetune_module, "finetune_on_corrections", finetune)
    loaded = w.service.engine
    press(w, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # Correct → Fine-tune on my corrections…
    dialog = w.tuning.dialogs[-1]
    dialog.start_button.click()
    qtbot.waitUntil(lambda: "changed nothing" in dialog.label.text(), timeout=20000)
    assert asked["save_unchanged"] is False
    text = dialog.label.text()
    assert "nothing was saved and the model you had stays loaded" in text and "Saved" not in text
    assert ("they are what it predicted" in text) == (held_out_iu == 1.0)  # a held-out image merely accepted
    qtbot.wait(300)
    assert w.service.engine is loaded and not dialog.use_anyway.isVisible()
    assert not dialog.resegment_button.isVisible()
    close = dialog.cancel_button  # the Close button lies inside the dialog, below its table
    assert close.isVisible() and close.mapTo(dialog, close.rect().bottomLeft()).y() <= dialog.height()
    assert dialog.table.geometry().bottom() < close.geometry().top()


def test_export_is_in_the_file_menu_too(qtbot, tmp_path, files):
    _, model = files
    w = window(qtbot, tmp_path, model)
    menus = {m.title().replace("&", ""): m for m in w.menuBar().findChildren(QMenu) if m.title()}
    assert w.actions.plain["export"] in menus["File"].actions() and w.actions.plain["export"] in menus["Correct"].actions()

# -- a failed load's message box goes when a later load succeeds -------------------------------------------
def test_a_failed_loads_message_closes_when_a_model_then_loads(qtbot, tmp_path, files, monkeypatch):
    _, model = files
    w = window(qtbot, tmp_path, model)
    garbage = tmp_path / "x.pth"
    garbage.write_bytes(b"\x80 not a checkpoint")
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(garbage)], ""))
    press(w, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: "x.pth" in w.last_error, timeout=20000)
    box = next(m for m in w._messages if m.isVisible())
    assert box.text().startswith("Could not load the model") and "stays in use" in box.text()
    other = model_with_classes(tmp_path, "other", ("a", "b", "c"))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(other)], ""))
    w.actions.plain["load_weights"].trigger()  # Model → Load weights…, the box still open beside the window
    qtbot.waitUntil(lambda: w.meta is not None and w.meta.n_class == 3, timeout=20000)
    assert not box.isVisible()


def test_the_brush_grows_with_a_large_image(qtbot, tmp_path, files, monkeypatch):
    _, model = files
    w = window(qtbot, tmp_path, model)
    big = tmp_path / "wide.png"
    Image.fromarray(np.zeros((400, 3000, 3), np.uint8)).save(big)
    open_with_dialog(qtbot, w, monkeypatch, [big])
    wait_result(qtbot, w, big)
    start_editing(qtbot, w)
    for _ in range(40):
        press(w, Qt.Key.Key_BracketRight)  # ] until it stops growing
    assert w.editor.state.radius == 300 == w.edit_panel.size.maximum()


def test_a_restart_comes_back_at_the_size_and_in_the_view_it_was_closed_in(qtbot, tmp_path, files, monkeypatch):
    folder, model = files
    w = window(qtbot, tmp_path, model, size=(1100, 760))
    open_with_dialog(qtbot, w, monkeypatch, [folder])
    wait_result(qtbot, w, folder / "p0.png")
    press(w, Qt.Key.Key_K)  # the skip view
    press(w, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    again = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    again.restore_geometry()  # what run_gui does before showing the window
    screen = again.screen().availableGeometry()  # Qt keeps a restored window on its screen (offscreen: 800 px)
    assert (again.width(), again.height()) == (min(1100, screen.width()), 760)
    assert again.saved_view() == "skips"


# -- issue 18: the window's fine-tune and `fcn-workbench finetune` are one recipe -------------------------------
@pytest.mark.slow
def test_the_window_and_the_cli_finetune_give_the_same_checkpoint(qtbot, tmp_path, files, monkeypatch, capsys):
    import torch

    from fcn_core.cli import main as cli

    folder, model = files
    w = corrected_window(qtbot, tmp_path, files, monkeypatch)
    press(w, Qt.Key.Key_PageDown)  # a second corrected image: one of the two is held out
    wait_result(qtbot, w, folder / "p1.png")
    dab(qtbot, w, Qt.Key.Key_3)
    w.editor.save()
    press(w, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # Correct → Fine-tune on my corrections…
    dialog = w.tuning.dialogs[-1]
    dialog.advanced.setChecked(True)  # Advanced: fewer steps for a test
    dialog.steps.setValue(40)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=240000)
    from_window = dialog.result.checkpoint
    assert from_window.parent == Workspace.beside(folder).root
    out = tmp_path / "cli.pt"
    assert cli(["finetune", str(folder), "--weights", str(model), "--out", str(out), "--quiet", "--iterations", "40"]) == 0
    assert f"saved {out}" in capsys.readouterr().out
    a = torch.load(from_window, weights_only=True)["state_dict"]
    b = torch.load(out, weights_only=True)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    original = torch.load(model, weights_only=True)["state_dict"]
    assert not all(torch.equal(a[k], original[k]) for k in a)  # it trained


def test_the_title_names_the_image_and_load_weights_opens_near_it(qtbot, tmp_path, files, monkeypatch):
    folder, model = files
    w = window(qtbot, tmp_path, model)
    assert w.windowTitle() == "FCN Workbench"
    open_with_dialog(qtbot, w, monkeypatch, [folder])
    wait_result(qtbot, w, folder / "p0.png")
    assert w.windowTitle() == f"p0.png — {folder.name} — FCN Workbench"
    press(w, Qt.Key.Key_PageDown)
    wait_result(qtbot, w, folder / "p1.png")
    assert w.windowTitle() == f"p1.png — {folder.name} — FCN Workbench"
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda _parent, _title, start, *a, **k: (asked.append(start), ([], ""))[1])
    press(w, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)  # Model → Load weights…: no weights loaded before
    assert asked == [str(folder)]
    root = w.editor.workspace(folder / "p1.png").root  # a fine-tune's model lies in the workspace: open there
    root.mkdir(parents=True, exist_ok=True)
    (root / "finetuned_20261205_120000.pt").write_bytes(model.read_bytes())
    press(w, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert asked[-1] == str(root)
