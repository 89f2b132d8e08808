"""Every QAction of the window, triggered as a person triggers it (the action itself, or its shortcut), in view
and edit mode, with and without an image and a model: no error, and the effect it promises.

``EFFECTS`` names every action; a new action without an entry fails ``test_every_action_has_an_effect_test``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog

from app.window.main_window import MainWindow
from app.dialogs.public_weights_dialog import PublicWeightsDialog
from fcn_core import FINETUNE_ITERATIONS, FCNBundle, LabelDocument, save_checkpoint
from fcn_core.weights import CACHE_ENV, public_weights
from tests.helpers.models import randomize, tiny_meta
from tests.helpers.mouse import click, drag

N_CLASS = 5


def all_actions(w: MainWindow) -> dict[str, QAction]:
    """Every action of actions.py, by a stable name (plain names; group:name for the grouped ones)."""
    a = w.actions
    out = dict(a.plain)
    for group in ("variants", "views", "devices", "tools", "sorts"):
        out.update({f"{group}:{k}": act for k, act in getattr(a, group).items()})
    out.update({f"classes:{i}": act for i, act in enumerate(a.classes)})
    out["undo"], out["redo"] = w.undo_action, w.redo_action
    return out


@pytest.fixture
def files(tmp_path):
    model = tmp_path / "tiny.pt"
    save_checkpoint(randomize(FCNBundle(tiny_meta(n_class=N_CLASS))), model)
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(2):
        img = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
        img[15:45, 20:60] = (230, 40, 40)
        Image.fromarray(img).save(folder / f"p{i}.png")
    other = tmp_path / "more"
    other.mkdir()
    Image.fromarray(rng.integers(0, 255, (50, 70, 3), dtype=np.uint8)).save(other / "q.png")
    return SimpleNamespace(model=model, folder=folder, images=sorted(folder.glob("*.png")), other=other / "q.png",
                           root=tmp_path)


def make_window(qtbot, files, model: bool, image: bool, edit: bool) -> MainWindow:
    w = MainWindow(settings=QSettings(str(files.root / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    if model:
        w.load_model([files.model])
        qtbot.waitUntil(lambda: w.meta is not None, timeout=20000)
    if image:
        w.open_paths([files.folder])
        if model:
            qtbot.waitUntil(lambda: w.result is not None, timeout=20000)
    if edit:
        w.actions.plain["edit"].trigger()
        assert w.editing
        if model and image:
            qtbot.waitUntil(lambda: w.editor.doc is not None, timeout=5000)
    return w


class Run:
    """One window in one state, and the checks of each action in it."""

    def __init__(self, qtbot, files, monkeypatch, model: bool, image: bool, edit: bool) -> None:
        self.qtbot, self.files, self.mp = qtbot, files, monkeypatch
        self.model, self.image, self.edit = model, image, edit
        self.w = make_window(qtbot, files, model, image, edit)
        self.act = all_actions(self.w)
        self.full = model and image  # a result is shown
        self.doc_open = self.full and edit

    def trigger(self, name: str) -> None:
        self.w.last_error = ""
        self.act[name].trigger()

    def wait(self, condition, timeout: int = 20000) -> None:
        self.qtbot.waitUntil(condition, timeout=timeout)

    def refused(self, name: str) -> None:
        """A disabled action does nothing at all."""
        assert not self.act[name].isEnabled(), f"{name} is enabled outside edit mode"


# -- the checks, one per action --------------------------------------------------------------------------
def check_variant(r: Run, v: str) -> None:
    r.trigger(f"variants:{v}")
    assert r.w.variant == v and r.act[f"variants:{v}"].isChecked()
    if r.full and not r.edit and r.w.view == "single":
        assert np.array_equal(r.w.single.pane.overlay_item.image, r.w.result.predictions[v].labels)


def check_view(r: Run, v: str) -> None:
    r.trigger(f"views:{v}")
    assert r.w.view == v and r.w.stack.currentIndex() == ("single", "compare", "skips").index(v)
    if r.full and v == "compare":
        assert all(p.image_item.image is not None for p in r.w.compare.grid.panes)
    if r.full and v == "skips":
        r.wait(lambda: r.w.fusion is not None and bool(r.w.skips.maps))


def check_fit(r: Run) -> None:
    pane = r.w.single.pane
    if r.full:
        pane.setRange(xRange=(30, 35), yRange=(30, 35), padding=0)
    r.trigger("fit")
    if r.full:
        (x0, x1), (y0, y1) = pane.viewRange()
        assert x0 <= 0 and x1 >= 80 and y0 <= 0 and y1 >= 60


def check_one_to_one(r: Run) -> None:
    r.trigger("one_to_one")
    if r.full:
        (x0, x1), _ = r.w.single.pane.viewRange()
        assert abs((x1 - x0) - r.w.single.pane.boundingRect().width()) < 2  # one image pixel per screen pixel


def check_toggle(r: Run, name: str, read) -> None:
    before = read()
    r.trigger(name)
    assert read() != before
    r.trigger(name)
    assert read() == before


def check_cycle_mode(r: Run) -> None:
    seen = []
    for _ in range(3):
        r.trigger("cycle_mode")
        seen.append(r.w.display.mode)
    assert seen == ["confidence", "entropy", "labels"]


def check_model_info(r: Run) -> None:
    r.trigger("model_info")
    if r.model:
        box = r.w._messages[-1]
        lines = r.w.meta.describe().splitlines()
        main, lineage = [x for x in lines if not x.startswith(" ")], [x.strip() for x in lines if x.startswith(" ")]
        assert box.isVisible() and box.text().startswith("\n".join(main))
        assert all(x in box.detailedText() for x in lineage)  # the ancestors behind "Show Details…"
        box.close()
    else:
        assert "No model is loaded" in r.w.last_error


def check_get_weights(r: Run) -> None:
    """The dialog lists the catalogue, against an empty cache here (tests/app/test_public_weights_dialog.py
    downloads and loads through it)."""
    r.mp.setenv(CACHE_ENV, str(r.files.root / "weights_cache"))
    before = r.w.meta
    r.trigger("get_weights")
    dialog = r.w.findChild(PublicWeightsDialog)
    assert dialog.isVisible() and dialog.table.rowCount() == len(public_weights())
    assert dialog.download_button.isEnabled() and not dialog.load_button.isEnabled()
    dialog.close_button.click()
    assert not dialog.isVisible() and r.w.meta is before  # nothing loaded without a download


def check_edit(r: Run) -> None:
    was = r.w.editing
    r.trigger("edit")
    assert r.w.editing != was and r.act["edit"].isChecked() != was
    if r.full:
        assert (r.w.editor.doc is not None) == (not was)
    r.trigger("edit")
    assert r.w.editing == was
    if r.full and was:
        r.wait(lambda: r.w.editor.doc is not None, 5000)


def check_tool(r: Run, tool: str) -> None:
    before = r.w.editor.state.tool
    r.trigger(f"tools:{tool}")
    if r.edit:
        assert r.w.editor.state.tool == tool
    else:
        r.refused(f"tools:{tool}")
        assert r.w.editor.state.tool == before


def check_class(r: Run, digit: int) -> None:
    a = r.act[f"classes:{digit}"]
    exists = r.model and digit < N_CLASS
    assert a.isVisible() == exists  # the menu lists only the model's classes
    if exists:
        assert r.w.meta.classes[digit] in a.text()
    r.trigger(f"classes:{digit}")
    if r.edit and exists:
        assert r.w.edit_panel.class_box.currentIndex() == digit and r.w.editor.state.cls == digit
    else:
        assert not a.isEnabled()


def check_brush_size(r: Run, name: str) -> None:
    before = r.w.editor.state.radius
    r.trigger(name)
    if r.edit:
        assert (r.w.editor.state.radius > before) == (name == "brush_bigger")
    else:
        r.refused(name)
        assert r.w.editor.state.radius == before


def check_polygon(r: Run) -> None:
    if not r.edit:
        r.refused("finish_polygon")
        r.refused("cancel_polygon")
        r.trigger("finish_polygon")
        r.trigger("cancel_polygon")
        return
    r.trigger("tools:polygon")
    r.trigger("classes:3")
    if not r.doc_open:
        r.trigger("finish_polygon")
        r.trigger("cancel_polygon")
        r.trigger("tools:brush")
        return
    for x, y in ((10, 10), (40, 10), (40, 40)):
        click(r.qtbot, r.w, x, y)
    assert len(r.w.editor.polygon) == 3
    r.trigger("cancel_polygon")
    assert r.w.editor.polygon == []
    for x, y in ((10, 10), (40, 10), (40, 40), (10, 40)):
        click(r.qtbot, r.w, x, y)
    r.trigger("finish_polygon")
    doc = r.w.editor.doc
    assert (doc.labels[15:35, 15:35] == 3).all() and r.w.editor.polygon == []
    r.trigger("tools:brush")


def check_refine(r: Run) -> None:
    if not r.edit:
        r.refused("refine")
        r.trigger("refine")
        return
    if r.doc_open:
        before = len(r.w.editor.doc.undo_stack)
        r.trigger("classes:1")
        r.qtbot.wait(QApplication.doubleClickInterval() + 50)  # not a double click on the polygon's last corner
        drag(r.qtbot, r.w, [(22, 20), (50, 20), (50, 38)])
        r.trigger("refine")  # GrabCut on the current class: one more undo step, or a sentence why not
        names = [a.name for a in r.w.editor.doc.undo_stack]
        assert names[-2:] == ["brush stroke", "refine to edges"] and len(names) == before + 2, names
    else:
        r.trigger("refine")


def check_accept_all(r: Run) -> None:
    if not r.edit:
        r.refused("accept_all")
        r.trigger("accept_all")
        return
    r.trigger("accept_all")
    if r.doc_open:
        assert r.w.editor.doc.verified.all() and "accept all" in r.act["undo"].text()


def check_undo_redo(r: Run) -> None:
    if not r.doc_open:
        assert not r.act["undo"].isEnabled() and not r.act["redo"].isEnabled()
        r.trigger("undo")
        r.trigger("redo")
        return
    doc = r.w.editor.doc
    r.trigger("tools:brush")
    r.trigger("classes:4")
    before = doc.labels.copy()
    drag(r.qtbot, r.w, [(60, 50), (70, 50)])
    after = doc.labels.copy()
    assert not np.array_equal(after, before) and r.act["undo"].text() == "&Undo brush stroke"
    r.trigger("undo")
    assert np.array_equal(doc.labels, before) and r.act["redo"].text() == "&Redo brush stroke"
    r.trigger("redo")
    assert np.array_equal(doc.labels, after)


def check_show_corrections(r: Run) -> None:
    check_toggle(r, "show_corrections", lambda: r.act["show_corrections"].isChecked())
    if r.full and not r.edit and r.w.view == "single":
        ws = r.w.editor.workspace(r.w.current_path)
        labels = np.full((60, 80), 2, np.uint8)
        saved = LabelDocument(labels.copy())
        ws.save(r.w.current_path, saved, r.w.palette, r.w.meta.classes)
        r.w.saved_labels.forget(r.w.current_path)
        r.trigger("variants:16s")
        r.trigger("variants:8s")  # redrawn: the saved corrections show instead of the prediction
        assert r.w.single.layer.isVisible() and np.array_equal(r.w.single.layer.labels, labels)
        r.trigger("show_corrections")
        assert not r.w.single.layer.isVisible()
        r.trigger("show_corrections")
        ws.label_path(r.w.current_path).unlink()
        ws.state_path(r.w.current_path).unlink(missing_ok=True)
        r.w.saved_labels.forget(r.w.current_path)


def check_choose_workspace(r: Run) -> None:
    chosen = r.files.root / "chosen_ws"
    chosen.mkdir(exist_ok=True)
    r.mp.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(chosen))
    r.trigger("choose_workspace")
    assert r.w.editor.session.workspace_root == chosen
    if r.doc_open:
        r.wait(lambda: r.w.editor.doc is not None, 5000)


def check_import(r: Run) -> None:
    """The dialog opens on the current folder; Cancel imports nothing (tests/app/test_import_export_gui.py
    imports through it)."""
    r.trigger("import")
    if not r.full:
        assert "Open and correct some images first" in r.w.last_error or not r.model and r.image
        return
    dialog = r.w.corrections.dialogs[-1]
    assert dialog.isVisible() and dialog.windowTitle().startswith("Import") and not dialog.import_button.isEnabled()
    before = sorted(p.name for p in r.w.editor.workspace(r.w.current_path).root.glob("*"))
    dialog.buttons.button(dialog.buttons.StandardButton.Cancel).click()
    assert not dialog.isVisible()
    assert sorted(p.name for p in r.w.editor.workspace(r.w.current_path).root.glob("*")) == before


def check_export(r: Run) -> None:
    r.trigger("export")
    if not r.full:
        assert "Open and correct some images first" in r.w.last_error or not r.model and r.image
        return
    dialog = r.w.corrections.dialogs[-1]
    assert dialog.isVisible() and dialog.folder.text().endswith("imgs_dataset")
    if r.doc_open:
        r.w.editor.doc.paint(index=np.arange(0, 300), value=2)
        dialog.predict_missing.setChecked(True)
        dialog.export_button.click()
        out = r.files.root / "imgs_dataset"
        r.wait(lambda: "Exported" in r.w.statusBar().currentMessage())
        assert (out / "SegmentationClass").is_dir() and len(list((out / "SegmentationClass").iterdir())) == 2
    else:
        dialog.reject()


def check_finetune(r: Run) -> None:
    if r.full and r.doc_open:  # a correction saved first: then it trains
        r.w.editor.doc.paint(index=np.arange(0, 800), value=1)
        r.w.editor.save()
    dialogs = len(r.w.tuning.dialogs)
    r.trigger("finetune")
    if not r.full:
        assert "Open and correct some images first" in r.w.last_error
        return
    if not r.doc_open:  # without corrections: one sentence, no dialog offering Start, and nothing written
        assert "has saved corrections yet" in r.w.last_error and len(r.w.tuning.dialogs) == dialogs
        assert not (r.w.editor.workspace(r.w.current_path).root / "finetune_data").exists()
        return
    dialog = r.w.tuning.dialogs[-1]
    assert dialog.isVisible() and dialog.steps.value() == FINETUNE_ITERATIONS and not dialog.advanced.isChecked()
    dialog.start_button.click()  # steps count up, then Cancel stops it
    r.wait(lambda: dialog.progress.value() >= 1, 120000)
    assert "Training step" in dialog.label.text() and dialog.progress.maximum() == FINETUNE_ITERATIONS
    dialog.cancel_button.click()
    r.wait(lambda: "Cancelled" in dialog.label.text() or "Saved" in dialog.label.text(), 60000)
    dialog.close()


def check_run_folder(r: Run) -> None:
    done = []
    r.w.service.folderDone.connect(lambda ok, bad: done.append((ok, bad)))
    r.trigger("run_folder")
    if not r.image:
        assert "Open some images first" in r.w.last_error
    elif not r.model:
        assert "No model is loaded" in r.w.last_error
    else:
        r.wait(lambda: bool(done))
        assert done[0] == (2, 0)
        r.wait(lambda: not r.w.tasks.rows, 5000)


def check_sort(r: Run, key: str) -> None:
    r.trigger(f"sorts:{key}")
    files = r.w.files
    assert r.act[f"sorts:{key}"].isChecked() and files.sort_measure == (None if key == "opened" else key)
    if key == "opened" or not files.measured:
        assert files.paths == [p for p in r.files.images if p in files.paths]  # the order they were opened in
        if key != "opened":
            assert "Run all images" in r.w.statusBar().currentMessage()
    else:  # after the folder run: most uncertain first
        values = [files._uncertainty[p].value(key) for p in files.paths]
        assert values == sorted(values, reverse=True)


def check_next_to_correct(r: Run) -> None:
    start = r.w.current_path
    r.trigger("next_to_correct")
    files = r.w.files
    if not files.measured:
        assert "Run all images" in r.w.statusBar().currentMessage()
        return
    target = files.next_to_correct("entropy" if files.sort_measure is None else files.sort_measure)
    if target is None:
        assert "Every ranked image has corrections" in r.w.statusBar().currentMessage()
        return
    r.wait(lambda: r.w.result is not None and r.w.result.path == target)
    assert target not in files.corrected_paths()
    files.setCurrentRow(files.row_of(start))  # back to where the person was (a click in the list)
    r.wait(lambda: r.w.result is not None and r.w.result.path == start)
    if r.edit:
        r.wait(lambda: r.w.editor.doc is not None and r.w.editor.path == start)


def check_next_prev(r: Run) -> None:
    start = r.w.current_path
    r.trigger("next")
    if not r.image:
        assert r.w.current_path is None
        r.trigger("prev")
        return
    second = r.files.images[1] if start == r.files.images[0] else r.files.images[0]
    assert r.w.current_path == second
    if r.model:
        r.wait(lambda: r.w.result is not None and r.w.result.path == second)
    if r.doc_open:
        r.wait(lambda: r.w.editor.path == second, 5000)
    r.trigger("prev")
    assert r.w.current_path == start
    if r.model:
        r.wait(lambda: r.w.result is not None and r.w.result.path == start)


def check_device(r: Run, device: str) -> None:
    before = r.w.meta
    r.trigger(f"devices:{device}")
    if not r.model:
        assert r.w.device_choice() == device and r.w.meta is None
        return
    if device == "cuda" and not _has_cuda():
        r.wait(lambda: "CUDA" in r.w.last_error)
        assert r.w.meta is before and "stays in use" in r.w.last_error
        assert r.w.device_choice() != "cuda"  # the menu shows where the model runs
    else:
        r.wait(lambda: r.w.meta is not before)
        assert "cpu" in r.w.model_label.text() or "cuda" in r.w.model_label.text()
    if r.image:
        r.wait(lambda: r.w.result is not None)
    if r.doc_open:
        r.wait(lambda: r.w.editor.doc is not None, 5000)


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def check_at_once(r: Run) -> None:
    check_toggle(r, "at_once", lambda: r.act["at_once"].isChecked())


def check_load_weights(r: Run) -> None:
    before = r.w.meta
    asked = []
    r.mp.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: asked.append(a[2]) or ([str(r.files.model)], ""))
    r.trigger("load_weights")
    r.wait(lambda: r.w.meta is not None and r.w.meta is not before)
    assert f"Loaded {r.files.model.name}" in r.w.statusBar().currentMessage()
    r.trigger("load_weights")  # the dialog opens where the last weights came from
    assert asked[-1] == str(r.files.model.parent)
    r.wait(lambda: r.w.service.weights == [r.files.model])
    if r.image:
        r.wait(lambda: r.w.result is not None)


def check_load_demo(r: Run) -> None:
    r.trigger("load_demo")
    r.wait(lambda: r.w.meta is not None and r.w.meta.n_class == 7)  # the demo model's seven classes
    assert "demo_model.pt" in r.w.model_label.text() or "FCN Workbench" in r.w.model_label.text()
    if r.image:
        r.wait(lambda: r.w.result is not None)
    if r.full and r.edit:  # the labels saved above have the tiny model's classes, none of them the demo's
        r.wait(lambda: r.w.editor.doc is not None or "classes" in r.w.last_error, 5000)
        assert r.w.editor.doc is None and "c0" in r.w.last_error and "blob" in r.w.last_error, r.w.last_error
    elif r.image and r.edit:
        r.wait(lambda: r.w.editor.doc is not None, 5000)
        assert r.w.editor.doc.n_class == r.w.meta.n_class


def check_open(r: Run) -> None:
    r.mp.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(r.files.other)], ""))
    r.trigger("open")
    assert r.w.current_path == r.files.other and r.files.other in r.w.files.paths
    assert r.w.recent()[0] == str(r.files.other)
    if r.w.meta is not None:
        r.wait(lambda: r.w.result is not None and r.w.result.path == r.files.other)


def check_open_folder(r: Run) -> None:
    r.mp.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(r.files.folder))
    r.trigger("open_folder")
    assert set(r.files.images) <= set(r.w.files.paths)
    if r.w.meta is not None:
        r.wait(lambda: r.w.result is not None)


def check_quit(r: Run) -> None:
    r.trigger("quit")
    assert not r.w.isVisible()


EFFECTS = {
    **{f"variants:{v}": (lambda r, v=v: check_variant(r, v)) for v in ("32s", "16s", "8s")},
    **{f"views:{v}": (lambda r, v=v: check_view(r, v)) for v in ("compare", "skips", "single")},
    "fit": check_fit,
    "one_to_one": check_one_to_one,
    "outline": lambda r: check_toggle(r, "outline", lambda: r.w.display.outline),
    "cycle_mode": check_cycle_mode,
    "show_corrections": check_show_corrections,
    "model_info": check_model_info,
    "get_weights": check_get_weights,
    "at_once": check_at_once,
    "edit": check_edit,
    **{f"tools:{t}": (lambda r, t=t: check_tool(r, t))
       for t in ("eraser", "fill", "polygon", "eyedropper", "take_variant", "brush")},
    **{f"classes:{d}": (lambda r, d=d: check_class(r, d)) for d in range(10)},
    "brush_smaller": lambda r: check_brush_size(r, "brush_smaller"),
    "brush_bigger": lambda r: check_brush_size(r, "brush_bigger"),
    "finish_polygon": check_polygon,
    "cancel_polygon": lambda r: None,  # checked with finish_polygon
    "refine": check_refine,
    "accept_all": check_accept_all,
    "undo": check_undo_redo,
    "redo": lambda r: None,  # checked with undo
    "choose_workspace": check_choose_workspace,
    "export": check_export,
    "import": check_import,
    "finetune": check_finetune,
    "run_folder": check_run_folder,
    **{f"sorts:{k}": (lambda r, k=k: check_sort(r, k)) for k in ("entropy", "margin", "disagreement", "opened")},
    "next_to_correct": check_next_to_correct,
    "next": check_next_prev,
    "prev": lambda r: None,  # checked with next
    **{f"devices:{d}": (lambda r, d=d: check_device(r, d)) for d in ("cpu", "cuda", "auto")},
    "load_weights": check_load_weights,
    "load_demo": check_load_demo,
    "open": check_open,
    "open_folder": check_open_folder,
    "quit": check_quit,
}


def test_every_action_has_an_effect_test(qtbot, files):
    w = make_window(qtbot, files, model=False, image=False, edit=False)
    assert set(all_actions(w)) == set(EFFECTS)
    fields = {f.name for f in dataclasses.fields(w.actions)}
    assert fields == {"plain", "variants", "variant_group", "views", "view_group", "devices", "device_group",
                      "tools", "tool_group", "classes", "sorts", "sort_group"}  # a new kind of action gets its own entries above


STATES = [(m, i, e) for m in (False, True) for i in (False, True) for e in (False, True)]


@pytest.mark.parametrize("model,image,edit", STATES,
                         ids=[f"{'model' if m else 'no-model'}-{'image' if i else 'no-image'}-{'edit' if e else 'view'}"
                              for m, i, e in STATES])
def test_every_action_in_every_state(qtbot, files, monkeypatch, model, image, edit):
    r = Run(qtbot, files, monkeypatch, model, image, edit)
    for name, check in EFFECTS.items():  # dict order: the ones that change the model or the image come last
        try:
            check(r)
        except AssertionError as e:
            raise AssertionError(f"action {name!r}: {e}") from e
        assert r.w.isVisible() or name == "quit", f"{name} closed the window"


def _key(action: QAction) -> tuple[Qt.Key, Qt.KeyboardModifier] | None:
    seq = action.shortcut()
    if seq.isEmpty():
        return None
    combo = seq[0]
    return combo.key(), combo.keyboardModifiers()


@pytest.mark.parametrize("edit", [False, True], ids=["view", "edit"])
def test_every_shortcut_reaches_its_action_and_no_two_share_one(qtbot, files, monkeypatch, edit):
    """Each enabled action's shortcut, pressed on the window, triggers that action and only that one."""
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([], ""))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: "")
    w = make_window(qtbot, files, model=True, image=True, edit=edit)
    actions = {n: a for n, a in all_actions(w).items() if a.isEnabled() and a.isVisible() and _key(a)}
    keys = [a.shortcut().toString() for a in actions.values()]
    assert len(keys) == len(set(keys)), f"shared shortcuts: {sorted(k for k in keys if keys.count(k) > 1)}"
    fired: list[str] = []
    for name, a in all_actions(w).items():
        a.triggered.connect(lambda _=False, name=name: fired.append(name))
    for name, a in actions.items():
        if name in ("quit", "finetune", "export", "import", "model_info", "load_weights"):
            continue  # these open windows or end this one; their triggers are checked above
        fired.clear()
        key, mods = _key(actions[name])
        QTest.keyClick(w, key, mods)
        assert fired[:1] == [name], f"{QKeySequence(a.shortcut()).toString()} fired {fired}, not {name}"
        if w.view != "single" and name.startswith("views:"):
            w.actions.views["single"].trigger()
        if name == "edit":
            w.actions.plain["edit"].trigger()  # back to the mode under test
        if w.result is None:
            qtbot.waitUntil(lambda: w.result is not None, timeout=20000)


def test_quit_takes_under_a_second_while_the_model_works(qtbot, files):
    import time

    w = make_window(qtbot, files, model=True, image=True, edit=True)
    engine = w.service.engine
    original = engine.predict
    engine.predict = lambda *a, **k: (time.sleep(3), original(*a, **k))[1]  # a long image
    w.service._analyses.clear()
    w.actions.plain["run_folder"].trigger()
    w.editor.doc.paint(index=np.arange(0, 40), value=3)  # the last stroke, not saved yet
    qtbot.wait(100)
    start = time.monotonic()
    QTest.keyClick(w, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert not w.isVisible(), (w.last_error, w.actions.plain["quit"].shortcut().toString())
    assert time.monotonic() - start <= 1.0
    saved = w.editor.workspace(files.images[0]).load(files.images[0], (60, 80), N_CLASS)[0]
    assert (saved.reshape(-1)[:40] == 3).all()
