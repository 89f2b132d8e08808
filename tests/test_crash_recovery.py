"""After a crash: a label and its verified mask are one unit, and what a killed writer left behind is swept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fcn_core import FCNBundle, save_checkpoint
from fcn_core.atomic import atomic_write_bytes, remove_stale_temps
from fcn_core.export import export_dataset
from fcn_core.image_io import read_label_png
from fcn_core.label_document import LabelDocument
from fcn_core.palette import voc_colormap
from fcn_core.staging import STAGE_MARK
from fcn_core.workspace import Workspace, pack_verified, unpack_verified
from tests.conftest import tiny_meta
from tests.helpers.faults import leftovers, replace_fails_at

CLASSES = ("background", "a", "b", "c")
COLORS = np.asarray(voc_colormap(4))


@pytest.fixture
def image(tmp_path) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(folder / "a.png")
    return folder / "a.png"


@pytest.fixture(scope="module")
def dead_pid() -> int:
    """The pid of a process that has exited (and, this soon, not been handed out again)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _doc(value: int, rows: slice) -> LabelDocument:
    doc = LabelDocument(np.zeros((20, 30), np.uint8), n_class=4)
    doc.paint(index=np.ravel_multi_index(np.mgrid[rows, 0:30].reshape(2, -1), (20, 30)), value=value)
    return doc


def test_verified_mask_packing_round_trips_and_rejects_a_wrong_size():
    rng = np.random.default_rng(1)
    for shape in [(1, 1), (7, 3), (20, 30), (33, 65)]:
        mask = rng.random(shape) < 0.3
        assert np.array_equal(unpack_verified(pack_verified(mask), shape), mask)
    assert unpack_verified(pack_verified(np.ones((4, 4), bool)), (5, 5)) is None
    assert unpack_verified(b"not deflate data", (4, 4)) is None


def test_a_crash_after_the_label_write_still_loads_the_matching_mask(image):
    ws = Workspace.beside(image.parent)
    ws.save(image, _doc(1, slice(0, 5)), COLORS, CLASSES)
    new = _doc(2, slice(5, 12))
    with pytest.MonkeyPatch.context() as m:
        replace_fails_at(m, 1)  # the label PNG lands, its readable mask copy does not
        with pytest.raises(OSError):
            ws.save(image, new, COLORS, CLASSES)
    stale = read_label_png(ws.verified_path(image)) > 0
    assert stale[:5].all() and not stale[5:].any(), "the copy beside it is still the old mask"
    labels, verified = ws.load(image, (20, 30), 4)
    assert np.array_equal(labels, new.labels) and np.array_equal(verified, new.verified)


def test_a_label_without_the_chunk_falls_back_to_the_mask_beside_it(image):
    ws = Workspace.beside(image.parent)
    doc = _doc(3, slice(2, 9))
    ws.save(image, doc, COLORS, CLASSES)
    with Image.open(ws.label_path(image)) as im:  # another tool rewrites the PNG: private chunks are dropped
        im.load()
        im.save(ws.label_path(image))
    labels, verified = ws.load(image, (20, 30), 4)
    assert np.array_equal(labels, doc.labels) and np.array_equal(verified, doc.verified)


def test_stale_temporary_files_are_removed_and_live_writes_kept(image, dead_pid):
    ws = Workspace.beside(image.parent)
    ws.save(image, _doc(1, slice(0, 3)), COLORS, CLASSES)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = ws.root / f".a.png.label.png.{dead_pid}.k2j_x9az.tmp"
        alive = ws.root / f".a.png.state.json.{sleeper.pid}.q0w9e8r7.tmp"
        ours = ws.root / f".a.png.verified.png.{os.getpid()}.abcdefgh.tmp"
        other = ws.root / ".notes.tmp"  # not a name our writes give
        for p in (dead, alive, ours, other):
            p.write_bytes(b"half")
        assert ws.load(image, (20, 30), 4) is not None
        assert not dead.exists() and alive.exists() and ours.exists() and other.exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert remove_stale_temps(ws.root) == [alive]


def test_atomic_writes_name_their_temporary_file_with_the_writer(tmp_path, monkeypatch):
    seen = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (seen.append(Path(a).name), real(a, b)))
    atomic_write_bytes(tmp_path / "x.bin", b"1")
    assert len(seen) == 1 and seen[0].startswith(f".x.bin.{os.getpid()}.") and seen[0].endswith(".tmp")
    assert remove_stale_temps(tmp_path) == [] and (tmp_path / "x.bin").read_bytes() == b"1"


def test_an_export_removes_the_staging_folders_of_killed_exports_only(image, tmp_path, dead_pid):
    ws = Workspace.beside(image.parent)
    ws.save(image, _doc(1, slice(0, 6)), COLORS, CLASSES)
    out = tmp_path / "dataset"
    killed = tmp_path / f".dataset{STAGE_MARK}{dead_pid}-0a1b2c3d"
    rolled_back = tmp_path / f".dataset{STAGE_MARK}{dead_pid}-99999999"  # holds old contents: never deleted
    running = tmp_path / f".dataset{STAGE_MARK}{os.getpid()}-deadbeef"
    other_target = tmp_path / f".other{STAGE_MARK}{dead_pid}-12345678"
    for p in (killed, rolled_back / ".replaced", running, other_target):
        p.mkdir(parents=True)
    (killed / "JPEGImages").mkdir()
    export_dataset(image.parent, out, CLASSES, [tuple(int(x) for x in c) for c in COLORS], val_fraction=0.0, seed=0)
    assert (out / "classes.json").exists()
    assert sorted(leftovers(tmp_path)) == sorted([rolled_back, running, other_target])


def test_saving_a_checkpoint_removes_what_a_killed_save_of_it_left(tmp_path, dead_pid):
    torn = tmp_path / f".model.pt.{dead_pid}.a1b2c3d4.tmp"
    neighbour = tmp_path / f".other.pt.{dead_pid}.a1b2c3d4.tmp"  # another file's: left to its own next save
    torn.write_bytes(b"x" * 1000)
    neighbour.write_bytes(b"x")
    save_checkpoint(FCNBundle(tiny_meta(n_class=3)), tmp_path / "model.pt")
    assert not torn.exists() and neighbour.exists() and (tmp_path / "model.pt").stat().st_size > 0
