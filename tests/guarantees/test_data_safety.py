"""Nothing lost, nothing half-written: disk full, write errors and cancel during export and workspace saves."""

from __future__ import annotations

import errno
import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fcn_core import FCNBundle, save_checkpoint
from fcn_core.cli import main as core_main
from fcn_core.storage.export import ExportCancelled, export_dataset
from fcn_core.labels.document import LabelDocument
from fcn_core.model.palette import voc_colormap
from fcn_core.storage.workspace import Workspace
from tests.helpers.models import randomize, tiny_meta
from tests.helpers.faults import disk_full_after, leftovers, replace_fails_at, snapshot

CLASSES = ("background", "a", "b", "c")
COLORS = tuple(tuple(int(x) for x in c) for c in voc_colormap(4))
N_IMAGES = 3


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(N_IMAGES):
        Image.fromarray(rng.integers(0, 255, (24 + i, 32, 3), dtype=np.uint8)).save(images / f"im{i}.png")
    _correct_all(images, 1)
    return images


def _correct_all(images, value: int) -> None:
    ws = Workspace.beside(images)
    for i in range(N_IMAGES):
        doc = LabelDocument(np.zeros((24 + i, 32), np.uint8), n_class=4)
        doc.paint(index=np.arange(0, 100 + 50 * i), value=value)
        ws.save(images / f"im{i}.png", doc, np.asarray(COLORS), CLASSES)


def _export(images, out, **kw):
    return export_dataset(images, out, CLASSES, COLORS, val_fraction=0.25, seed=1, **kw)


def _clean(root) -> None:
    assert leftovers(root) == [], "temporary or staging files were left behind"


def _bytes_and_renames(monkeypatch, images, out, **kw) -> tuple[int, int, dict[str, bytes]]:
    """Bytes written and os.replace calls of one fault-free export, and what it wrote."""
    with monkeypatch.context() as m:
        budget = disk_full_after(m, 1 << 40)
        calls = replace_fails_at(m, -1)
        _export(images, out, **kw)
    return (1 << 40) - budget[0], calls[0], snapshot(out)


def test_disk_full_during_export_leaves_nothing_and_a_retry_succeeds(folder, tmp_path, monkeypatch):
    total, _, reference = _bytes_and_renames(monkeypatch, folder, tmp_path / "ref")
    for k, budget in enumerate(np.linspace(0, total - 1, 7).astype(int)):
        out = tmp_path / f"new{k}" / "VOC2012"  # its parent does not exist yet either
        with monkeypatch.context() as m:
            disk_full_after(m, int(budget))
            with pytest.raises(OSError, match="nothing was exported") as err:
                _export(folder, out)
        assert err.value.errno == errno.ENOSPC
        assert not out.parent.exists(), "a failed export must leave no folder behind"
        _clean(tmp_path)
        _export(folder, out)  # the retry after the fault
        assert snapshot(out) == reference


def test_a_failed_rename_into_an_empty_folder_leaves_it_empty(folder, tmp_path, monkeypatch):
    _, renames, reference = _bytes_and_renames(monkeypatch, folder, tmp_path / "ref")
    out = tmp_path / "chosen"
    out.mkdir()
    for n in range(renames):  # every file's rename, and the final one that moves the whole dataset in
        with monkeypatch.context() as m:
            replace_fails_at(m, n)
            with pytest.raises(OSError, match="nothing was exported"):
                _export(folder, out)
        assert out.is_dir() and not any(out.iterdir())
        _clean(tmp_path)
    _export(folder, out)
    assert snapshot(out) == reference


def test_a_failed_overwrite_keeps_the_old_dataset_whole(folder, tmp_path, monkeypatch):
    out = tmp_path / "VOC2012"
    _export(folder, out)
    (out / "notes.txt").write_text("mine")  # things that are not the export's stay untouched
    (out / "ImageSets" / "Main").mkdir()
    (out / "ImageSets" / "Main" / "x.txt").write_text("x")
    old = snapshot(out)
    _correct_all(folder, 2)
    shutil.copytree(out, tmp_path / "ref")  # measure the same overwrite on a copy
    total, renames, reference = _bytes_and_renames(monkeypatch, folder, tmp_path / "ref", overwrite=True)
    assert renames > 3 * N_IMAGES + 4 + 5  # every file's rename, then the swap's
    for n in range(renames):  # every rename of the swap too, each failure rolled back
        with monkeypatch.context() as m:
            replace_fails_at(m, n)
            with pytest.raises(OSError, match="nothing was exported"):
                _export(folder, out, overwrite=True)
        assert snapshot(out) == old, n
        _clean(tmp_path)
    for budget in (0, total // 2, total - 1):
        with monkeypatch.context() as m:
            disk_full_after(m, budget)
            with pytest.raises(OSError, match="No space left"):
                _export(folder, out, overwrite=True)
        assert snapshot(out) == old
        _clean(tmp_path)
    _export(folder, out, overwrite=True)
    new = snapshot(out)
    assert new == reference and new != old
    assert new["notes.txt"] == b"mine" and new["ImageSets/Main/x.txt"] == b"x"


def test_export_never_overwrites_silently(folder, tmp_path):
    out = tmp_path / "ds"
    _export(folder, out)
    before = snapshot(out)
    for partial in ("SegmentationVerified", "classes.json"):  # any part of a dataset counts
        other = tmp_path / f"has_{partial}"
        other.mkdir()
        (other / partial).mkdir() if "." not in partial else (other / partial).write_text("{}")
        with pytest.raises(ValueError, match="already holds a dataset"):
            _export(folder, other)
    with pytest.raises(ValueError, match="already holds a dataset"):
        _export(folder, out)
    assert snapshot(out) == before


@pytest.mark.parametrize("at", range(N_IMAGES + 1))
def test_cancel_during_export_writes_nothing_and_the_next_export_works(folder, tmp_path, at):
    reference = tmp_path / "ref"
    _export(folder, reference)
    out = tmp_path / "out"
    seen: list[int] = []
    with pytest.raises(ExportCancelled):
        _export(folder, out, progress=lambda i, n: seen.append(i), cancel=lambda: len(seen) > at)
    assert not out.exists()
    _clean(tmp_path)

    def progress(i: int, n: int) -> None:  # a GUI job cancels by raising from its progress callback; here Ctrl+C
        if i == at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _export(folder, out, progress=progress)
    assert not out.exists()
    _clean(tmp_path)
    _export(folder, out)
    assert snapshot(out) == snapshot(reference)


def test_cancel_during_an_overwrite_keeps_the_old_dataset(folder, tmp_path):
    out = tmp_path / "ds"
    _export(folder, out)
    old = snapshot(out)
    _correct_all(folder, 3)
    with pytest.raises(ExportCancelled):
        _export(folder, out, overwrite=True, cancel=lambda: True)
    assert snapshot(out) == old
    _clean(tmp_path)


def test_cli_export_disk_full_is_one_line_exit_2_and_a_retry_works(folder, tmp_path, monkeypatch, capsys):
    model = tmp_path / "m.pt"
    save_checkpoint(randomize(FCNBundle(replace(tiny_meta(n_class=4), classes=CLASSES))), model)
    out = tmp_path / "cli_out"
    args = ["export", str(folder), "--out", str(out), "--weights", str(model), "--device", "cpu"]
    with monkeypatch.context() as m:
        disk_full_after(m, 3000)
        rc = core_main(args)
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("fcn-workbench export: No space left on device") and "nothing was exported" in err
    assert not out.exists()
    _clean(tmp_path)
    assert core_main(args) == 0
    assert (out / "ImageSets" / "Segmentation" / "trainval.txt").read_text().count("\n") == N_IMAGES


def _workspace_files(ws: Workspace, image) -> tuple[np.ndarray, np.ndarray, dict]:
    from fcn_core.storage.image_io import read_label_png

    return (read_label_png(ws.label_path(image)), read_label_png(ws.verified_path(image)) > 0,
            json.loads(ws.state_path(image).read_text()))


def test_workspace_save_under_disk_full_or_a_failed_rename_keeps_valid_files(folder, monkeypatch):
    ws = Workspace.beside(folder)
    image = folder / "im0.png"
    labels, verified = ws.load(image, (24, 32), 4)
    doc = LabelDocument(labels, verified, n_class=4)
    old = _workspace_files(ws, image)
    doc.paint(index=np.arange(200, 500), value=3)
    with monkeypatch.context() as m:
        budget = disk_full_after(m, 1 << 40)
        calls = replace_fails_at(m, -1)
        ws.save(image, doc, np.asarray(COLORS), CLASSES)
    total, renames = (1 << 40) - budget[0], calls[0]
    new = _workspace_files(ws, image)
    ws.save(image, LabelDocument(old[0], old[1], n_class=4), np.asarray(COLORS), CLASSES)  # back to the old files
    faults = [("disk", int(b)) for b in np.linspace(0, total - 1, 7)] + [("rename", n) for n in range(renames)]
    for kind, n in faults:
        with monkeypatch.context() as m:
            disk_full_after(m, n) if kind == "disk" else replace_fails_at(m, n)
            with pytest.raises(OSError):
                ws.save(image, doc, np.asarray(COLORS), CLASSES)
        got = _workspace_files(ws, image)  # every file is whole: the old one or the new one
        assert np.array_equal(got[0], old[0]) or np.array_equal(got[0], new[0])
        assert np.array_equal(got[1], old[1]) or np.array_equal(got[1], new[1])
        assert set(got[2]) == set(new[2])
        _clean(ws.root)
        ws.save(image, doc, np.asarray(COLORS), CLASSES)  # the retry writes everything
        got = _workspace_files(ws, image)
        assert np.array_equal(got[0], doc.labels) and np.array_equal(got[1], doc.verified)
        ws.save(image, LabelDocument(old[0], old[1], n_class=4), np.asarray(COLORS), CLASSES)


def test_export_into_a_symlinked_or_current_empty_folder_keeps_the_folder(folder, tmp_path, monkeypatch):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    _export(folder, link)
    assert link.is_symlink() and (real / "classes.json").exists()
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    _export(folder, ".")
    assert (here / "classes.json").exists() and Path.cwd() == here
    _clean(tmp_path)
