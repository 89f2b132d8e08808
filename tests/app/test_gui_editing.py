"""Correcting labels in the window with real mouse strokes: paint, fill, polygon, undo/redo, autosave."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from app.views.overlay import outline_index
from fcn_core import FCNBundle, LabelDocument, Workspace, save_checkpoint
from fcn_core.storage.export import read_exported_item
from tests.helpers.mouse import click, drag
from tests.helpers.faults import disk_full_after, full_workspace_disk, leftovers
from tests.helpers.models import randomize, tiny_meta


def test_brush_stroke_paints_one_undo_step(qtbot, win):
    doc = win.editor.doc
    before = doc.labels.copy()
    qtbot.keyClick(win, Qt.Key.Key_4)  # number keys pick classes in edit mode
    assert win.editor.state.cls == 4
    win.edit_panel.set_radius(3)
    drag(qtbot, win, [(10, 30), (20, 30), (30, 30), (40, 30), (50, 30)])
    assert (doc.labels[28:33, 15:45] == 4).all()
    assert doc.verified[30, 30]
    assert len(doc.undo_stack) == 1 and win.undo_action.text() == "&Undo brush stroke"
    win.undo_action.trigger()
    assert np.array_equal(doc.labels, before) and not doc.verified.any()
    win.redo_action.trigger()
    assert (doc.labels[28:33, 15:45] == 4).all()
    # the layer shows the document, not the prediction, and a dab re-colours only its rectangle
    assert win.single.layer.labels is doc.labels and win.single.layer.isVisible()
    win.edit_panel.set_radius(2)
    drag(qtbot, win, [(60, 50), (61, 50), (62, 50)])
    assert 0 < win.single.layer.pixels_coloured <= 10 * 10
    argb = win.single.layer.buffer[50, 61]
    assert (argb >> 24) & 0xFF == round(255 * win.display.opacity)





def test_going_back_to_an_image_brings_back_its_undo_history_unless_its_labels_changed_meanwhile(qtbot, win):
    first, ws = win.editor.path, Workspace.beside(win.editor.path.parent)
    qtbot.keyClick(win, Qt.Key.Key_3)
    win.edit_panel.set_radius(3)
    drag(qtbot, win, [(10, 30), (30, 30)])
    painted = win.editor.doc.labels.copy()
    win.actions.plain["next"].trigger()
    qtbot.waitUntil(lambda: win.editor.path is not None and win.editor.path != first, timeout=20000)
    second = win.editor.path
    win.actions.plain["prev"].trigger()
    qtbot.waitUntil(lambda: win.editor.path == first, timeout=20000)
    assert np.array_equal(win.editor.doc.labels, painted) and win.undo_action.text() == "&Undo brush stroke"
    qtbot.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not win.editor.doc.verified.any()
    # labels written behind the window's back (an import) are what reopening shows, with no old history to undo
    qtbot.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    win.actions.plain["next"].trigger()
    qtbot.waitUntil(lambda: win.editor.path == second, timeout=20000)
    imported = LabelDocument(np.full((60, 80), 4, np.uint8), None, n_class=5)
    imported.revision = ws.saved_revision(first)  # the same count: only the pixels tell them apart
    ws.save(first, imported, win.palette, win.meta.classes)
    win.actions.plain["prev"].trigger()
    qtbot.waitUntil(lambda: win.editor.path == first, timeout=20000)
    assert (win.editor.doc.labels == 4).all() and not win.undo_action.isEnabled()

def _load_weights_through_the_menu(qtbot, win, monkeypatch, path) -> None:
    before = win.meta
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(path)], ""))
    win.actions.plain["load_weights"].trigger()
    qtbot.waitUntil(lambda: win.meta is not before and win.editor.doc is not None, timeout=20000)


def test_a_model_with_the_same_classes_keeps_the_strokes_undoable_and_the_paint_class(qtbot, win, monkeypatch, tmp_path):
    """A fine-tuned model (same classes, new weights) must not take the person's undo history away."""
    qtbot.keyClick(win, Qt.Key.Key_3)
    win.edit_panel.set_radius(3)
    drag(qtbot, win, [(10, 30), (30, 30), (50, 30)])
    painted = win.editor.doc.labels.copy()
    other = tmp_path / "same_classes.pt"
    save_checkpoint(randomize(FCNBundle(tiny_meta(n_class=5)), seed=7), other)
    _load_weights_through_the_menu(qtbot, win, monkeypatch, other)
    doc = win.editor.doc
    assert np.array_equal(doc.labels, painted) and win.undo_action.isEnabled()
    assert win.undo_action.text() == "&Undo brush stroke"
    assert win.edit_panel.class_box.currentIndex() == 3 and win.editor.state.cls == 3
    win.undo_action.trigger()
    assert not doc.verified.any() and not np.array_equal(doc.labels, painted)
    # other classes: the saved labels are mapped by name into a new document, with no history of the old one
    third = tmp_path / "other_classes.pt"
    save_checkpoint(randomize(FCNBundle(tiny_meta(n_class=4))), third)
    _load_weights_through_the_menu(qtbot, win, monkeypatch, third)
    assert win.editor.doc is not doc and not win.undo_action.isEnabled()


def test_undoing_every_stroke_leaves_no_correction_behind(qtbot, win):
    """A person who paints and takes it all back has corrected nothing: no saved labels (which the export and
    the fine-tune would take for a correction), no mark in the list."""
    path, ws = win.editor.path, Workspace.beside(win.editor.path.parent)
    qtbot.keyClick(win, Qt.Key.Key_2)
    win.edit_panel.set_radius(3)
    drag(qtbot, win, [(10, 30), (30, 30)])
    drag(qtbot, win, [(10, 50), (30, 50)])
    qtbot.waitUntil(lambda: ws.has(path) and path in win.files.corrected_paths(), timeout=5000)  # the autosave
    qtbot.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert win.editor.doc.as_made
    win.actions.plain["next"].trigger()  # leaving the image saves it
    qtbot.waitUntil(lambda: win.editor.path is not None and win.editor.path != path, timeout=20000)
    assert not ws.has(path) and not ws.state_path(path).exists() and path not in win.files.corrected_paths()
    # a stroke on saved labels, undone, is back at the saved correction: that one stays
    second = win.editor.path
    drag(qtbot, win, [(10, 30), (30, 30)])
    assert win.editor.save() and ws.has(second)
    win.actions.plain["prev"].trigger()
    qtbot.waitUntil(lambda: win.editor.path == path, timeout=20000)
    win.actions.plain["next"].trigger()
    qtbot.waitUntil(lambda: win.editor.path == second, timeout=20000)
    drag(qtbot, win, [(10, 50), (30, 50)])
    qtbot.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert win.editor.save() and ws.has(second) and second in win.files.corrected_paths()

def test_outline_mode_while_editing_redraws_only_around_each_stroke(qtbot, win):
    doc = win.editor.doc
    win.outline_box.setChecked(True)
    layer = win.single.layer
    assert layer.outline and layer.labels is doc.labels and layer.isVisible()
    qtbot.keyClick(win, Qt.Key.Key_3)
    win.edit_panel.set_radius(2)
    drag(qtbot, win, [(40, 30), (41, 30), (42, 30)])
    assert (doc.labels[29:32, 40:43] == 3).all()
    assert 0 < layer.pixels_coloured <= 14 * 14  # the dab and a pixel around it, not the 60×80 image
    assert np.array_equal(layer.buffer, layer.argb[outline_index(doc.labels)])
    win.undo_action.trigger()  # undo redraws around the stroke too
    assert np.array_equal(layer.buffer, layer.argb[outline_index(doc.labels)])
    win.outline_box.setChecked(False)
    assert not layer.outline and layer.buffer[30, 41] == layer.argb[doc.labels[30, 41]]

def test_fill_polygon_preserve_and_take_variant(qtbot, win):
    doc = win.editor.doc
    win.actions.tools["polygon"].trigger()
    qtbot.keyClick(win, Qt.Key.Key_2)
    for x, y in [(5, 5), (30, 5), (30, 25), (5, 25)]:
        click(qtbot, win, x, y)
    win.actions.plain["finish_polygon"].trigger()
    assert (doc.labels[8:22, 8:27] == 2).all()
    # a lasso: drag a closed loop with the polygon tool
    qtbot.keyClick(win, Qt.Key.Key_4)
    drag(qtbot, win, [(50, 5), (60, 5), (70, 5), (70, 12), (70, 20), (60, 20), (50, 20), (50, 12), (50, 6), (50, 6)])
    assert (doc.labels[10:16, 56:65] == 4).all() and win.editor.polygon == []  # (QTest moves are sparse)
    win.actions.tools["fill"].trigger()
    qtbot.keyClick(win, Qt.Key.Key_3)
    click(qtbot, win, 15, 15)
    assert (doc.labels[8:22, 8:27] == 3).all()
    # preserve other labels: paint class 1 only over class 3
    win.edit_panel.preserve_box.setCurrentIndex(1 + 3)
    win.actions.tools["brush"].trigger()
    qtbot.keyClick(win, Qt.Key.Key_1)
    win.edit_panel.set_radius(20)
    untouched = doc.labels[40:, :].copy()
    drag(qtbot, win, [(15, 15), (16, 16), (17, 40)])
    assert (doc.labels[8:22, 8:27] == 1).all()
    assert np.array_equal(doc.labels[40:, :][untouched != 3], untouched[untouched != 3])
    win.edit_panel.preserve_box.setCurrentIndex(0)
    # take this variant here
    win.actions.tools["take_variant"].trigger()
    qtbot.keyClick(win, Qt.Key.Key_1, Qt.KeyboardModifier.AltModifier)  # take the variant Alt+1 chose
    assert win.variant == "32s" and win.actions.tools["take_variant"].text() == "&Take FCN-32s here"
    pred, other = win.result.predictions["32s"].labels, win.result.predictions["8s"].labels
    doc.paint(index=np.arange(doc.labels.size), value=255)  # so every pixel the stroke takes shows
    doc.end_stroke()
    drag(qtbot, win, [(60, 45), (61, 46), (62, 47)])
    taken = doc.labels != 255
    assert taken[45, 60] and np.array_equal(doc.labels[taken], pred[taken])
    assert (pred[taken] != other[taken]).any()  # so copying FCN-8s (the old fixed source) would fail
    assert len(doc.undo_stack) == 6  # five tool strokes and the direct paint above


def test_eyedropper_and_eraser_to_void(qtbot, win):
    doc = win.editor.doc
    doc.paint(index=np.arange(0, 80 * 10), value=2)
    win.actions.tools["eyedropper"].trigger()
    click(qtbot, win, 10, 5)
    assert win.editor.state.cls == 2
    win.actions.tools["eraser"].trigger()
    win.edit_panel.void_box.setChecked(True)
    win.edit_panel.set_radius(2)
    drag(qtbot, win, [(40, 40), (41, 40), (45, 40)])
    assert doc.labels[40, 42] == 255


def test_autosave_and_switching_images_keep_edits(qtbot, win):
    doc = win.editor.doc
    first = win.editor.path
    doc.paint(index=np.arange(100, 400), value=3)
    qtbot.waitUntil(lambda: Workspace.beside(first.parent).has(first), timeout=3000)
    win.actions.plain["next"].trigger()
    qtbot.waitUntil(lambda: win.editor.path is not None and win.editor.path != first, timeout=20000)
    win.actions.plain["prev"].trigger()
    qtbot.waitUntil(lambda: win.editor.path == first, timeout=20000)
    assert (win.editor.doc.labels.reshape(-1)[100:400] == 3).all()
    assert win.editor.doc.verified.reshape(-1)[100:400].all()


def test_export_from_the_window(qtbot, win, tmp_path):
    win.editor.doc.paint(index=np.arange(0, 500), value=1)
    win.editor.save()
    out = tmp_path / "export"
    win.export_to(out)
    qtbot.waitUntil(lambda: (out / "ImageSets/Segmentation/trainval.txt").exists(), timeout=20000)
    win.service.runner.wait(10000)
    item = win.editor.path.stem
    labels, verified = read_exported_item(out, item)
    assert np.array_equal(labels, win.editor.doc.labels) and np.array_equal(verified, win.editor.doc.verified)


def test_export_cancel_and_disk_full_in_the_window_leave_nothing_then_export_works(qtbot, win, tmp_path, monkeypatch):
    win.editor.doc.paint(index=np.arange(0, 500), value=1)
    win.editor.save()
    out = tmp_path / "export"
    gate = threading.Event()
    win.service.runner.submit(lambda ctx: gate.wait(10))  # hold the worker so the cancel lands before the export runs
    win.export_to(out)
    row = win.tasks.row("exporting")
    assert row is not None and win.tasks.isVisible()
    row.cancel_button.click()
    gate.set()
    qtbot.waitUntil(lambda: "Export cancelled" in win.statusBar().currentMessage(), timeout=20000)
    assert not out.exists() and not win.tasks.rows
    with monkeypatch.context() as m:
        disk_full_after(m, 2000)
        win.export_to(out)
        qtbot.waitUntil(lambda: "Export failed" in win.last_error, timeout=20000)
        win.service.runner.wait(10000)
    assert win.last_error.startswith("Export failed: No space left on device; nothing was exported")
    assert not out.exists() and leftovers(tmp_path) == []
    win.export_to(out)
    qtbot.waitUntil(lambda: "Exported" in win.statusBar().currentMessage(), timeout=20000)
    labels, verified = read_exported_item(out, win.editor.path.stem)
    assert np.array_equal(labels, win.editor.doc.labels) and np.array_equal(verified, win.editor.doc.verified)


def test_a_save_that_hits_a_full_disk_is_retried_and_lands(qtbot, win, monkeypatch):
    path, ws = win.editor.path, Workspace.beside(win.editor.path.parent)
    win.editor.doc.paint(index=np.arange(0, 60), value=3)
    assert win.editor.save()
    before = ws.load(path, (60, 80), 5)[0].copy()
    win.editor.doc.paint(index=np.arange(60, 200), value=4)
    with monkeypatch.context() as m:
        disk_full_after(m, 100)  # the label PNG does not fit
        assert not win.editor.save()
    assert "No space left" in win.last_error and win.editor.unsaved
    assert np.array_equal(ws.load(path, (60, 80), 5)[0], before)  # the old file, whole
    assert leftovers(ws.root) == []
    assert win.editor.save_timer.isActive()  # the retry is scheduled (5 s); run it now
    win.editor.save_timer.start(1)
    qtbot.waitUntil(lambda: not win.editor.unsaved, timeout=5000)
    assert np.array_equal(ws.load(path, (60, 80), 5)[0], win.editor.doc.labels)


def test_failed_save_keeps_edits_and_tells(qtbot, win, monkeypatch):
    def full_disk(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Workspace, "save", full_disk)
    win.editor.doc.paint(index=np.arange(0, 50), value=2)
    assert not win.editor.save()
    assert "No space left" in win.last_error
    assert (win.editor.doc.labels.reshape(-1)[:50] == 2).all() and win.editor.unsaved


@pytest.mark.slow
def test_finetune_from_the_window_loads_the_new_model(qtbot, win):
    doc = win.editor.doc
    doc.paint(index=np.arange(0, 2000), value=1)
    win.actions.plain["next"].trigger()
    qtbot.waitUntil(lambda: win.editor.path is not None and win.editor.path.name == "p1.png", timeout=20000)
    win.editor.doc.paint(index=np.arange(0, 2000), value=2)
    old_meta = win.meta
    dialog = win.finetune(iterations=6)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=120000)
    assert dialog.result.checkpoint.exists()
    assert "after" in dialog.label.text()
    qtbot.waitUntil(lambda: win.meta is not old_meta, timeout=20000)
    assert win.meta.provenance.recipe.startswith("fine-tune: 6 steps")


def test_closing_the_window_saves_the_last_stroke(qtbot, win):
    path = win.editor.path
    win.editor.doc.paint(index=np.arange(0, 80), value=4)
    win.close()
    labels, _ = Workspace.beside(path.parent).load(path, (60, 80), 5)
    assert (labels.reshape(-1)[:80] == 4).all()


def test_closing_on_a_full_disk_keeps_the_window_until_saved_or_closed_again(qtbot, win, monkeypatch):
    path = win.editor.path
    disk = full_workspace_disk(monkeypatch)
    win.editor.doc.paint(index=np.arange(0, 80), value=3)
    win.close()
    assert win.isVisible() and "No space left" in win.last_error and "close it again" in win.last_error
    disk["full"] = False  # space freed: the next close saves and closes
    win.close()
    assert not win.isVisible()
    labels, _ = Workspace.beside(path.parent).load(path, (60, 80), 5)
    assert (labels.reshape(-1)[:80] == 3).all()


def test_closing_twice_on_a_full_disk_quits_without_the_edits(qtbot, win, monkeypatch):
    monkeypatch.setattr(Workspace, "save", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    win.editor.doc.paint(index=np.arange(0, 80), value=3)
    win.close()
    assert win.isVisible()
    win.close()
    assert not win.isVisible()


def test_workspace_the_user_picks(qtbot, win, tmp_path):
    chosen = tmp_path / "my_ws"
    win.set_workspace(chosen)
    qtbot.waitUntil(lambda: win.editor.doc is not None, timeout=5000)
    win.editor.doc.paint(index=np.arange(0, 80), value=3)
    assert win.editor.save()
    assert Workspace(chosen).has(win.editor.path)


def test_a_broken_saved_label_closes_the_editor_and_paints_nowhere(qtbot, win):
    first = win.editor.path
    second = first.parent / "p1.png"
    ws = Workspace.beside(first.parent)
    ws.root.mkdir(exist_ok=True)
    ws.label_path(second).write_bytes(b"not a png")
    win.editor.doc.paint(index=np.arange(0, 40), value=3)  # the first image's last edit, not saved yet
    win.actions.plain["next"].trigger()
    qtbot.waitUntil(lambda: "p1.png" in win.last_error, timeout=20000)
    assert win.editor.doc is None and win.result.path == second
    saved_first = ws.load(first, (60, 80), 5)[0].copy()
    assert (saved_first.reshape(-1)[:40] == 3).all()  # saved on the way out
    drag(qtbot, win, [(20, 20), (30, 30)])  # painting on the second image goes into no document
    assert np.array_equal(ws.load(first, (60, 80), 5)[0], saved_first)
    assert ws.label_path(second).read_bytes() == b"not a png"  # never written over
    assert not win.undo_action.isEnabled()


def test_export_and_folder_run_each_have_their_own_cancel(qtbot, win, tmp_path):
    win.editor.doc.paint(index=np.arange(0, 500), value=1)
    win.editor.save()
    out = tmp_path / "export"
    gate = threading.Event()
    win.service.runner.submit(lambda ctx: gate.wait(10))  # hold the worker: both tasks wait behind it
    done = []
    win.service.folderDone.connect(lambda ok, bad: done.append((ok, bad)))
    win.service._analyses.clear()
    win.actions.plain["run_folder"].trigger()
    win.export_to(out)
    assert [r.name for r in win.tasks.rows] == ["segmenting", "exporting"]
    win.tasks.row("exporting").cancel_button.click()  # stops the export, not the folder run
    gate.set()
    qtbot.waitUntil(lambda: bool(done), timeout=30000)
    assert done[0] == (2, 0)
    qtbot.waitUntil(lambda: not win.tasks.rows, timeout=20000)
    assert not out.exists()
