"""Correcting in the window when things get in the way: a failing disk across image switches, an image
switch or an undo in the middle of a drag, a model with other classes, a pending polygon, paint-over."""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from fcn_core import FCNBundle, Workspace, save_checkpoint
from tests.helpers.models import randomize, tiny_meta
from tests.helpers.mouse import click, drag, move, widget_pos
from tests.helpers.faults import full_workspace_disk


def _next_image(qtbot, win, name: str) -> None:
    win.actions.plain["next" if name == "p1.png" else "prev"].trigger()
    qtbot.waitUntil(lambda: win.editor.path is not None and win.editor.path.name == name, timeout=20000)


def test_edits_a_failed_save_could_not_write_survive_image_switches_and_land_later(qtbot, win, monkeypatch):
    first = win.editor.path
    ws = Workspace.beside(first.parent)
    disk = full_workspace_disk(monkeypatch)
    messages = []
    win.editor.saveFailed.connect(messages.append)
    win.editor.doc.paint(index=np.arange(0, 80), value=3)
    _next_image(qtbot, win, "p1.png")  # the save on the way out fails: the edits stay in memory
    assert not ws.has(first) and win.editor.has_unsaved
    win.editor.doc.paint(index=np.arange(0, 80), value=2)
    assert not win.editor.save()
    assert len(messages) == 1 and "No space left" in messages[0]  # told once, not at every retry
    _next_image(qtbot, win, "p0.png")
    assert (win.editor.doc.labels.reshape(-1)[:80] == 3).all()  # back with its unsaved edits, not the prediction
    assert win.editor.unsaved
    disk["full"] = False
    win.editor.save_timer.start(1)  # the retry (every 5 s) runs now
    qtbot.waitUntil(lambda: not win.editor.has_unsaved, timeout=5000)
    assert (ws.load(first, (60, 80), 5)[0].reshape(-1)[:80] == 3).all()
    assert (ws.load(first.parent / "p1.png", (60, 80), 5)[0].reshape(-1)[:80] == 2).all()
    win.editor.doc.paint(index=np.arange(80, 90), value=1)
    assert win.editor.save_timer.interval() == 400  # autosave is back to half a second


def test_choosing_another_workspace_after_a_failed_save_writes_the_edits_there(qtbot, win, monkeypatch, tmp_path):
    path = win.editor.path
    full_workspace_disk(monkeypatch, roots={Workspace.beside(path.parent).root})
    win.editor.doc.paint(index=np.arange(0, 80), value=4)
    assert not win.editor.save()
    chosen = tmp_path / "elsewhere"
    win.set_workspace(chosen)
    qtbot.waitUntil(lambda: win.editor.doc is not None, timeout=5000)
    assert not win.editor.has_unsaved
    assert (Workspace(chosen).load(path, (60, 80), 5)[0].reshape(-1)[:80] == 4).all()
    assert (win.editor.doc.labels.reshape(-1)[:80] == 4).all()


def test_an_image_switch_during_a_drag_ends_the_stroke_on_its_own_image(qtbot, win):
    first, doc = win.editor.path, win.editor.doc
    qtbot.keyClick(win, Qt.Key.Key_4)
    win.edit_panel.set_radius(3)
    vp = win.single.viewport()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_pos(win, 10, 10))
    move(qtbot, win, 30, 10)
    _next_image(qtbot, win, "p1.png")  # the next image arrives with the button still down
    second = win.editor.doc
    before = second.labels.copy()
    move(qtbot, win, 30, 40)
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_pos(win, 30, 40))
    assert np.array_equal(second.labels, before) and not second.undo_stack
    saved = Workspace.beside(first.parent).load(first, (60, 80), 5)[0]
    assert (saved[10, 10:31] == 4).all() and np.array_equal(saved, doc.labels)  # the drag, saved on the way out


def test_undo_during_a_drag_undoes_that_drag_as_one_step(qtbot, win):
    doc = win.editor.doc
    qtbot.keyClick(win, Qt.Key.Key_2)
    win.edit_panel.set_radius(3)
    drag(qtbot, win, [(60, 40), (70, 40)])
    after_first = doc.labels.copy()
    vp = win.single.viewport()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_pos(win, 10, 10))
    move(qtbot, win, 30, 10)
    assert (doc.labels[10, 10:31] == 2).any()
    win.undo_action.trigger()  # Ctrl+Z with the button still down
    assert np.array_equal(doc.labels, after_first)
    move(qtbot, win, 30, 30)  # the rest of that drag paints nothing
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_pos(win, 30, 30))
    assert np.array_equal(doc.labels, after_first)
    assert win.redo_action.isEnabled()
    win.redo_action.trigger()
    assert (doc.labels[10, 10:31] == 2).all() and (doc.labels[30, 28:33] != 2).any()
    win.undo_action.trigger()
    win.undo_action.trigger()  # and the first drag: the document and the undo stack agree
    assert not doc.undo_stack and not win.undo_action.isEnabled()


def test_a_stroke_the_bounded_history_dropped_leaves_the_undo_stack(qtbot, win):
    doc = win.editor.doc
    doc.history_bytes = 1  # keep only the newest stroke
    qtbot.keyClick(win, Qt.Key.Key_1)
    drag(qtbot, win, [(10, 10), (20, 10)])
    drag(qtbot, win, [(10, 40), (20, 40)])
    assert len(doc.undo_stack) == 1
    win.undo_action.trigger()
    assert (doc.labels[40, 10:21] != 1).any()  # the second stroke is undone
    win.undo_action.trigger()  # the first stroke's pixels are gone from memory: nothing to undo
    assert not win.undo_action.isEnabled()
    assert (doc.labels[10, 10:21] == 1).all()  # still painted, and the menu no longer offers it
    win.redo_action.trigger()
    assert (doc.labels[40, 10:21] == 1).all()


def test_loading_a_model_with_other_classes_reopens_the_editor_with_them(qtbot, win, tmp_path):
    path = win.editor.path
    win.editor.doc.paint(index=np.arange(0, 80), value=4)
    seven = tmp_path / "seven.pt"
    save_checkpoint(randomize(FCNBundle(tiny_meta(n_class=7)), seed=1), seven)
    old = win.editor.doc
    win.load_model([seven])
    qtbot.waitUntil(lambda: win.editor.doc is not None and win.editor.doc is not old, timeout=20000)
    assert win.editor.doc.n_class == 7 and len(win.editor.classes) == 7
    assert (win.editor.doc.labels.reshape(-1)[:80] == 4).all()  # saved with the old model, reopened with the new
    assert win.editor.predictions is win.result.predictions
    qtbot.keyClick(win, Qt.Key.Key_6)  # a class the old model did not have
    drag(qtbot, win, [(40, 30), (42, 30)])
    assert win.editor.doc.labels[30, 41] == 6
    assert Workspace.beside(path.parent).load(path, (60, 80), 7) is not None


def test_refine_to_edges_keeps_to_paint_over(qtbot, win):
    editor, doc = win.editor, win.editor.doc
    image = np.full((60, 80, 3), 40, np.uint8)
    image[10:50, 10:70] = 220  # one bright block
    editor.session.image = image
    doc.paint(index=np.arange(doc.labels.size), value=0)
    labels = np.zeros((60, 80), np.uint8)
    labels[18:42, 18:50] = 1  # class 1 covers part of the block
    labels[10:50, 53:70] = 2  # class 2 covers its right end, within reach of the refinement
    doc.paint(mask=labels == 1, value=1)
    doc.paint(mask=labels == 2, value=2)
    qtbot.keyClick(win, Qt.Key.Key_1)
    start = doc.labels.copy()
    editor.refine_to_edges()
    assert ((start == 2) & (doc.labels == 1)).any()  # unrestricted, the block's class-2 end turns class 1
    editor.undo()
    assert np.array_equal(doc.labels, start)
    win.edit_panel.preserve_box.setCurrentIndex(1 + 0)  # paint over background only
    editor.refine_to_edges()
    changed = doc.labels != start
    assert changed.any() and (start[changed] == 0).all()  # grown into background, class 2 kept


def test_a_pending_polygon_is_drawn_and_escape_or_a_tool_switch_drops_it(qtbot, win):
    doc = win.editor.doc
    before = doc.labels.copy()
    win.actions.tools["polygon"].trigger()
    for x, y in [(10, 10), (40, 10), (40, 40)]:
        click(qtbot, win, x, y)
    assert len(win.editor.polygon) == 3 and not win.single.polygon.path().isEmpty()
    qtbot.keyClick(win, Qt.Key.Key_Escape)
    assert win.editor.polygon == [] and win.single.polygon.path().isEmpty()
    for x, y in [(10, 10), (40, 10), (40, 40)]:
        click(qtbot, win, x, y)
    win.actions.tools["eraser"].trigger()
    assert win.editor.polygon == [] and win.single.polygon.path().isEmpty()
    qtbot.keyClick(win, Qt.Key.Key_Return)  # nothing left to fill (it would have erased with the eraser)
    assert np.array_equal(doc.labels, before)


def test_a_chosen_workspace_never_mixes_two_images_of_the_same_name(qtbot, win, tmp_path):
    first = win.editor.path
    chosen = tmp_path / "shared_ws"
    win.set_workspace(chosen)
    qtbot.waitUntil(lambda: win.editor.doc is not None, timeout=5000)
    win.editor.doc.paint(index=np.arange(0, 80), value=3)
    assert win.editor.save()
    saved = (chosen / f"{first.name}.label.png").read_bytes()
    other_folder = tmp_path / "other"
    other_folder.mkdir()
    twin = other_folder / first.name
    Image.fromarray(np.full((60, 80, 3), 90, np.uint8)).save(twin)
    win.show_path(twin)
    qtbot.waitUntil(lambda: "another image named" in win.last_error, timeout=20000)
    assert str(first) in win.last_error and win.editor.doc is None
    drag(qtbot, win, [(20, 20), (30, 30)])
    assert (chosen / f"{first.name}.label.png").read_bytes() == saved  # the first image's labels, untouched
    win.show_path(first)  # its own image opens as before
    qtbot.waitUntil(lambda: win.editor.path == first, timeout=20000)
    assert (win.editor.doc.labels.reshape(-1)[:80] == 3).all()
