"""The Images list: thumbnails for every image off the GUI thread, kept across additions, even rows, marks."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

import app.services.thumbnails
from app.views.file_list import THUMB, FileList


def _image(path: Path, h: int, w: int) -> Path:
    rng = np.random.default_rng(h * 1000 + w)
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)
    return path


@pytest.fixture
def images(tmp_path) -> list[Path]:
    shapes = [("a.png", 60, 80), ("b.jpg", 300, 200), ("strip.png", 1, 500), ("d.jpg", 40, 40), ("e.png", 500, 1),
              ("f.jpg", 90, 120), ("g.png", 33, 77)]
    return [_image(tmp_path / name, h, w) for name, h, w in shapes]


@pytest.fixture
def calls(monkeypatch) -> Counter:
    """Counts the decodes the list asks for (from its pool threads)."""
    seen: Counter = Counter()
    lock = threading.Lock()
    real = app.services.thumbnails.read_thumbnail

    def counting(path, size):
        with lock:
            seen[Path(path)] += 1
        return real(path, size)

    monkeypatch.setattr(app.services.thumbnails, "read_thumbnail", counting)
    return seen


@pytest.fixture
def files(qtbot) -> FileList:
    lst = FileList()
    qtbot.addWidget(lst)
    lst.resize(300, 500)
    lst.show()
    yield lst
    lst.cancel_thumbnails()
    lst._loader.wait()


def _icons_ready(lst: FileList) -> bool:
    return all(not lst.item(r).icon().isNull() for r in range(lst.count()))


def test_every_image_gets_a_thumbnail_kept_when_more_are_added(qtbot, files, images, calls):
    files.add_paths(images[:5])
    qtbot.waitUntil(lambda: _icons_ready(files))  # nobody visited them
    keys = [files.item(r).icon().cacheKey() for r in range(5)]
    first = [files.item(r) for r in range(5)]
    assert all(files.item(r).icon().availableSizes() == [files.iconSize()] for r in range(5))  # padded square

    files.add_paths(images[5:])
    qtbot.waitUntil(lambda: files.count() == 7 and _icons_ready(files))
    assert [files.item(r) for r in range(5)] == first  # appended, not rebuilt
    assert [files.item(r).icon().cacheKey() for r in range(5)] == keys
    assert calls == Counter({p: 1 for p in images})  # one decode per image, none again
    heights = {files.visualItemRect(files.item(r)).height() for r in range(7)}
    assert heights == {files.sizeHintForRow(0)} and min(heights) >= THUMB  # the strips give normal rows


def test_add_paths_keeps_order_and_ignores_duplicates(files, images):
    a, b, c = images[:3]
    assert files.add_paths([a, b, a]) == [a, b]
    assert files.add_paths([b, c, c]) == [c]
    assert files.paths == [a, b, c] and files.row_of(c) == 2 and files.row_of(images[4]) == -1


def test_rebuilding_keeps_thumbnails_and_ignores_stale_results(qtbot, files, images, calls):
    files.set_paths(images[:3])
    qtbot.waitUntil(lambda: _icons_ready(files))
    key = files.item(1).icon().cacheKey()
    files.set_paths([images[1], images[3]])  # not a growth: rebuilt, but the icon of images[1] is cached
    assert files.item(0).icon().cacheKey() == key
    files._loader.ready.emit(images[0], files.item(0).icon())  # a late result for a path no longer listed
    qtbot.waitUntil(lambda: _icons_ready(files))
    assert files.paths == [images[1], images[3]] and images[0] not in files._icons
    assert calls[images[1]] == 1


def test_clearing_cancels_the_queued_thumbnails(qtbot, files, images, monkeypatch):
    gate, started = threading.Event(), Counter()
    real = app.services.thumbnails.read_thumbnail

    def slow(path, size):
        started[Path(path)] += 1
        gate.wait(5)
        return real(path, size)

    monkeypatch.setattr(app.services.thumbnails, "read_thumbnail", slow)
    files.add_paths(images)
    qtbot.waitUntil(lambda: sum(started.values()) == 2)  # both pool threads busy, five queued
    files.clear()
    gate.set()
    assert files._loader.wait()
    qtbot.wait(100)  # let any queued delivery arrive
    assert sum(started.values()) == 2 and files.count() == 0 and not files._icons


def test_correction_mark_and_status(files, images):
    a, b = images[:2]
    files.add_paths([a, b])
    files.set_correction(a, 0.63)
    assert files.item(0).text().splitlines() == ["a.png", "✎ 63 % verified"]
    assert "63 % of the label verified" in files.item(0).toolTip()
    assert files.corrected_paths() == [a]
    files.set_status(a, "segmented")
    assert files.item(0).text().splitlines()[1] == "segmented · ✎ 63 % verified"
    files.set_correction(b, 0.9999)
    assert "99 % verified" in files.item(1).text()
    files.set_correction(b, 1.0)
    assert "✔ 100 % verified" in files.item(1).text()
    files.set_correction(a, None)
    assert files.item(0).text().splitlines() == ["a.png", "segmented"]
    assert files.corrected_paths() == [b]
    files.add_paths(images[2:3])  # marks survive growth
    assert files.corrected_paths() == [b]


def test_set_status_with_the_decoded_image_gives_an_icon_at_once(files, images):
    files.cancel_thumbnails()
    files.add_paths(images[:1])
    files.set_status(images[0], "", np.zeros((1, 500, 3), np.uint8))
    assert not files.item(0).icon().isNull() and files.item(0).text() == "a.png"


def test_unreadable_file_is_marked(qtbot, files, images, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    files.add_paths([images[0], bad])
    qtbot.waitUntil(lambda: "unreadable" in files.item(1).text())
    assert "No preview" in files.item(1).toolTip()


def test_clicking_a_row_emits_activated_path(qtbot, files, images):
    files.add_paths(images[:3])
    files.select(images[0])
    rect = files.visualItemRect(files.item(2))
    with qtbot.waitSignal(files.activated_path, timeout=2000) as blocker:
        QTest.mouseClick(files.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    assert blocker.args == [images[2]]
    with qtbot.waitSignal(files.activated_path, timeout=2000) as blocker:
        files.step(1)
    assert blocker.args == [images[0]]


def test_deleting_the_list_drops_its_queue(qtbot, images, monkeypatch):
    started: Counter = Counter()
    real = app.services.thumbnails.read_thumbnail

    def slow(path, size):
        started[Path(path)] += 1
        threading.Event().wait(0.2)
        return real(path, size)

    monkeypatch.setattr(app.services.thumbnails, "read_thumbnail", slow)
    lst = FileList()
    lst.add_paths(images)
    qtbot.waitUntil(lambda: sum(started.values()) >= 1)
    with qtbot.waitSignal(lst.destroyed, timeout=3000):
        lst.deleteLater()
    qtbot.wait(300)
    assert sum(started.values()) <= 4  # the ones already running finish; the queued ones never start


def test_two_folders_images_of_one_name_are_told_apart(qtbot, tmp_path):
    from app.views.file_list import FileList

    paths = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        path = tmp_path / folder / "scene_01.png"
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
        paths.append(path)
    files = FileList()
    qtbot.addWidget(files)
    files.add_paths([paths[0]])
    assert files.item(0).text() == "scene_01.png"
    files.add_paths([paths[1]])  # the second folder's namesake: both rows now name their folder
    assert [files.item(i).text() for i in range(2)] == ["a/scene_01.png", "b/scene_01.png"]
    assert files.item(1).toolTip().startswith(str(paths[1]))
