"""File → Import annotations… and the export dialog's formats, as a person uses them: the shortcut, the
dialog's fields typed into, its buttons clicked; then what the list, the editor and the disk show."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from fcn_core import Workspace
from fcn_core.storage.labelme_format import labelme_document, labelme_shapes
from tests.app.test_window_defects import N_CLASS, files, open_with_dialog, press, start_editing, wait_result, window  # noqa: F401

CLASSES = tuple(f"c{i}" for i in range(N_CLASS))  # tiny_meta's class names


def labelme_folder(root: Path) -> tuple[Path, dict[str, np.ndarray]]:
    out = root / "from_labelme"
    out.mkdir()
    maps = {}
    for i, name in enumerate(("p0.png", "p1.png")):
        labels = np.zeros((60, 80), np.uint8)
        labels[10:40, 15:50] = 1 + i
        labels[45:55, 60:75] = 3
        maps[name] = labels
        (out / f"p{i}.json").write_bytes(labelme_document(labelme_shapes(labels, CLASSES), name, 60, 80))
    return out, maps


def import_dialog(qtbot, w):
    press(w, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    dialog = w.corrections.dialogs[-1]
    assert dialog.isVisible() and dialog.windowTitle() == "Import annotations as corrections"
    return dialog


def folder_window(qtbot, tmp_path, files, monkeypatch):
    """The window on both images of ``files`` (opened with File → Open), the first one segmented."""
    folder, model = files
    w = window(qtbot, tmp_path, model)
    open_with_dialog(qtbot, w, monkeypatch, sorted(folder.glob("*.png")))
    wait_result(qtbot, w, folder / "p0.png")
    return w, folder


def test_import_through_the_menu_marks_the_list_and_opens_in_the_editor(qtbot, tmp_path, files, monkeypatch):
    w, folder = folder_window(qtbot, tmp_path, files, monkeypatch)
    source, maps = labelme_folder(tmp_path)

    dialog = import_dialog(qtbot, w)
    assert dialog.problem.text() == "" and not dialog.import_button.isEnabled()  # nothing typed, nothing said
    QTest.keyClicks(dialog.path, str(source))
    dialog.verified.click()
    assert dialog.import_button.isEnabled()
    dialog.import_button.click()
    qtbot.waitUntil(lambda: "Imported labels for 2 images" in w.statusBar().currentMessage(), timeout=20000)
    assert "(verified)" in w.statusBar().currentMessage()
    for n in maps:  # the list marks both, fully verified
        assert "✔ 100 % verified" in w.files.item(w.files.row_of(folder / n)).text()
    start_editing(qtbot, w)
    assert np.array_equal(w.editor.doc.labels, maps["p0.png"]) and w.editor.doc.verified.all()

    again = import_dialog(qtbot, w)  # the same again (the dialog proposes it): refused, nothing changes
    assert again.path.text() == str(source) and again.verified.isChecked() and again.import_button.isEnabled()
    before = {p.name: p.read_bytes() for p in Workspace.beside(folder).root.iterdir()}
    again.import_button.click()
    qtbot.waitUntil(lambda: "already have corrections" in w.last_error, timeout=20000)
    assert {p.name: p.read_bytes() for p in Workspace.beside(folder).root.iterdir()} == before


def test_the_import_dialog_says_what_is_wrong_before_anything_runs(qtbot, tmp_path, files, monkeypatch):
    folder, model = files
    w = window(qtbot, tmp_path, model)
    open_with_dialog(qtbot, w, monkeypatch, [folder / "p0.png"])
    wait_result(qtbot, w, folder / "p0.png")
    dialog = import_dialog(qtbot, w)
    dialog.kind.setCurrentIndex(dialog.kind.findData("coco"))
    QTest.keyClicks(dialog.path, str(tmp_path))
    assert "a COCO import reads one instances JSON file" in dialog.problem.text()
    assert not dialog.import_button.isEnabled()
    dialog.path.clear()
    QTest.keyClicks(dialog.path, str(tmp_path / "nothing.json"))
    assert "does not exist" in dialog.problem.text()
    (tmp_path / "bad.json").write_text('{"images": [')
    dialog.path.clear()
    QTest.keyClicks(dialog.path, str(tmp_path / "bad.json"))
    dialog.import_button.click()
    qtbot.waitUntil(lambda: "Import failed: bad.json is not valid JSON" in w.last_error, timeout=20000)
    assert not Workspace.beside(folder).root.exists()


@pytest.mark.parametrize("fmt", ["labelme", "coco"])
def test_the_export_dialog_writes_the_chosen_format(qtbot, tmp_path, files, monkeypatch, fmt):
    w, folder = folder_window(qtbot, tmp_path, files, monkeypatch)
    source, maps = labelme_folder(tmp_path)
    dialog = import_dialog(qtbot, w)
    QTest.keyClicks(dialog.path, str(source))
    dialog.import_button.click()
    qtbot.waitUntil(lambda: "Imported labels" in w.statusBar().currentMessage(), timeout=20000)

    press(w, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)  # Correct → Export dataset…
    export = w.corrections.dialogs[-1]
    assert not export.polygons.isEnabled()  # only COCO has polygons
    export.format.setCurrentIndex(export.format.findData(fmt))
    out = tmp_path / f"out_{fmt}"
    export.folder.clear()
    QTest.keyClicks(export.folder, str(out))
    if fmt == "coco":
        assert export.polygons.isEnabled()
        export.polygons.click()
    export.export_button.click()
    said = {"labelme": f"→ {out} as labelme files", "coco": f"val → {out} as COCO"}[fmt]
    qtbot.waitUntil(lambda: said in w.statusBar().currentMessage(), timeout=20000)
    if fmt == "labelme":
        assert sorted(p.name for p in out.iterdir()) == ["labels.txt", "p0.jpg", "p0.json", "p1.jpg", "p1.json"]
        shapes = json.loads((out / "p1.json").read_text())["shapes"]
        assert {s["label"] for s in shapes} == {"c2", "c3"} and {s["shape_type"] for s in shapes} == {"polygon"}
    else:
        doc = json.loads((out / "annotations" / "instances_trainval.json").read_text())
        assert len(doc["annotations"]) == 4 and all(isinstance(a["segmentation"], list) for a in doc["annotations"])
    w.corrections.dialogs[-1].close() if w.corrections.dialogs[-1].isVisible() else None
    press(w, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)  # again: the last folder, and its format
    again = w.corrections.dialogs[-1]
    assert again.folder.text() == str(out) and again.format.currentData() == fmt
    assert "Replace the dataset there" in again.problem.text()  # not "other files": it is this format's dataset
