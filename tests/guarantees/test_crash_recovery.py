"""After a crash: a label and its verified mask are one unit, and what a killed writer left behind is swept."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fcn_core import FCNBundle, save_checkpoint
from fcn_core.storage import writer_locks
from fcn_core.storage.atomic import atomic_write_bytes, atomic_write_via, remove_stale_temps
from fcn_core.storage.export import export_dataset
from fcn_core.storage.image_io import encode_label_png, read_label_png, read_label_png_chunks
from fcn_core.labels.document import LabelDocument
from fcn_core.model.palette import voc_colormap
from fcn_core.storage.staging import STAGE_MARK, staged_folder
from fcn_core.storage.workspace import VERIFIED_CHUNK, Workspace, _swept, pack_verified, unpack_verified
from tests.helpers.models import tiny_meta
from tests.helpers.faults import leftovers, replace_fails_at

CLASSES = ("background", "a", "b", "c")
COLORS = np.asarray(voc_colormap(4))


@pytest.fixture
def image(tmp_path) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(folder / "a.png")
    return folder / "a.png"


@pytest.fixture
def holder():
    """Start a process that holds the writer's lock on a path, as a running save or export does."""
    procs = []

    def hold(path: Path) -> None:
        code = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY); "
                "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)")
        proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "held"
        procs.append(proc)

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait()


def _doc(value: int, rows: slice) -> LabelDocument:
    doc = LabelDocument(np.zeros((20, 30), np.uint8), n_class=4)
    doc.paint(index=np.ravel_multi_index(np.mgrid[rows, 0:30].reshape(2, -1), (20, 30)), value=value)
    return doc


def test_verified_mask_packing_round_trips_and_rejects_what_is_not_these_labels_mask():
    rng = np.random.default_rng(1)
    for shape in [(1, 1), (7, 3), (20, 30), (33, 65)]:
        mask, labels = rng.random(shape) < 0.3, rng.integers(0, 4, shape, dtype=np.uint8)
        assert np.array_equal(unpack_verified(pack_verified(mask, labels), labels), mask)
    labels = np.zeros((4, 4), np.uint8)
    chunk = pack_verified(np.ones((4, 4), bool), labels)
    assert unpack_verified(chunk, np.ones((4, 4), np.uint8)) is None  # the pixels changed since
    assert unpack_verified(pack_verified(np.ones((5, 5), bool), labels), labels) is None  # wrong size
    assert unpack_verified(chunk[:4] + b"not deflate data", labels) is None
    bomb = chunk[:4] + zlib.compress(bytes(50_000_000))  # 50 MB of zeros in 50 kB
    tracemalloc.start()
    try:
        assert unpack_verified(bomb, labels) is None
        assert tracemalloc.get_traced_memory()[1] < 1_000_000  # never inflated
    finally:
        tracemalloc.stop()


def test_a_corrupt_or_foreign_chunk_falls_back_to_the_mask_beside_it(image):
    ws = Workspace.beside(image.parent)
    doc = _doc(2, slice(3, 8))
    ws.save(image, doc, COLORS, CLASSES)
    chunk = read_label_png_chunks(ws.label_path(image))[1][VERIFIED_CHUNK]
    edited = doc.labels.copy()
    edited[0, 0] = 3
    for labels, data in [(doc.labels, chunk[:4] + b"garbage"), (edited, chunk)]:  # broken; pixels edited since
        ws.label_path(image).write_bytes(encode_label_png(labels, COLORS, {VERIFIED_CHUNK: data}))
        got_labels, got_verified = ws.load(image, (20, 30), 4)
        assert np.array_equal(got_labels, labels) and np.array_equal(got_verified, doc.verified)


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
    assert VERIFIED_CHUNK not in read_label_png_chunks(ws.label_path(image))[1]
    labels, verified = ws.load(image, (20, 30), 4)
    assert np.array_equal(labels, doc.labels) and np.array_equal(verified, doc.verified)


def test_stale_temporary_files_are_removed_and_live_writes_kept(image, holder):
    ws = Workspace.beside(image.parent)
    ws.save(image, _doc(1, slice(0, 3)), COLORS, CLASSES)
    dead = ws.root / ".fcnwb-a.png.label.png.k2j_x9az.tmp"  # a write killed mid-way: nobody holds it
    alive = ws.root / ".fcnwb-a.png.state.json.q0w9e8r7.tmp"  # a save running in another process
    ours = ws.root / ".fcnwb-a.png.verified.png.abcdefgh.tmp"  # one running in this process, on another thread
    other = ws.root / ".notes.tmp"  # not a name our writes give
    for p in (dead, alive, ours, other):
        p.write_bytes(b"half")
    holder(alive)
    fd = os.open(ours, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        _swept.discard(ws.root)
        assert ws.load(image, (20, 30), 4) is not None
        assert not dead.exists() and alive.exists() and ours.exists() and other.exists()
    finally:
        os.close(fd)
    assert remove_stale_temps(ws.root) == [ours]


def test_an_atomic_write_holds_its_temporary_file_until_it_is_in_place(tmp_path):
    seen = []

    def write(tmp: str) -> None:
        Path(tmp).write_bytes(b"new")
        seen.append(remove_stale_temps(tmp_path))  # a sweep in the middle of the write
        seen.append(Path(tmp).exists())

    atomic_write_bytes(tmp_path / "x.bin", b"old")
    atomic_write_via(tmp_path / "x.bin", write)
    assert seen == [[], True] and (tmp_path / "x.bin").read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["x.bin"]


def test_an_export_removes_the_staging_folders_of_killed_exports_only(image, tmp_path, holder):
    ws = Workspace.beside(image.parent)
    ws.save(image, _doc(1, slice(0, 6)), COLORS, CLASSES)
    out = tmp_path / "dataset"
    killed = tmp_path / f".dataset{STAGE_MARK}0a1b2c3d"
    cut_short = tmp_path / f".dataset{STAGE_MARK}99999999"  # an overwrite killed mid-swap: old data, kept
    swapped = tmp_path / f".dataset{STAGE_MARK}77777777"  # killed after its swap: the old data is not needed
    running = tmp_path / f".dataset{STAGE_MARK}deadbeef"
    other_target = tmp_path / f".other{STAGE_MARK}12345678"
    for p in (killed / "JPEGImages", cut_short / ".replaced", swapped / ".replaced", running, other_target):
        p.mkdir(parents=True)
    (swapped / ".swapped").touch()
    holder(running)
    export_dataset(image.parent, out, CLASSES, [tuple(int(x) for x in c) for c in COLORS], val_fraction=0.0, seed=0)
    assert (out / "classes.json").exists()
    assert sorted(leftovers(tmp_path)) == sorted([cut_short, running, other_target])


def test_saving_a_checkpoint_removes_what_a_killed_save_of_it_left(tmp_path):
    torn = tmp_path / ".fcnwb-model.pt.a1b2c3d4.tmp"
    neighbours = [tmp_path / ".fcnwb-other.pt.a1b2c3d4.tmp", tmp_path / ".fcnwb-model.pt.bak.a1b2c3d4.tmp"]  # their own saves'
    for p in (torn, *neighbours):
        p.write_bytes(b"x" * 1000)
    save_checkpoint(FCNBundle(tiny_meta(n_class=3)), tmp_path / "model.pt")
    assert not torn.exists() and all(p.exists() for p in neighbours)
    assert (tmp_path / "model.pt").stat().st_size > 0


def test_without_flock_writes_work_and_nothing_is_swept(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_locks, "fcntl", None)  # as on Windows
    leftover = tmp_path / ".fcnwb-x.bin.k2j_x9az.tmp"
    leftover.write_bytes(b"half")
    atomic_write_bytes(tmp_path / "x.bin", b"new")
    with staged_folder(tmp_path / "out", ("a",)) as stage:
        (stage / "a").write_bytes(b"1")
    assert (tmp_path / "x.bin").read_bytes() == b"new" and (tmp_path / "out" / "a").read_bytes() == b"1"
    assert remove_stale_temps(tmp_path) == [] and leftover.exists()
