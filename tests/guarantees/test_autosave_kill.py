"""Kill the app (SIGKILL) while it autosaves: every label file stays valid and at most the last stroke is lost.

Over 100 autosaves in several lives of the real window: each life reopens the labels the previous one
saved, paints one row per stroke (row i gets class 1 + i % 4), reports each row once autosave wrote it,
and is killed at a random moment (a random stroke, then a random few milliseconds into the next stroke
and its save). The first life uses the app's own autosave delay; the later ones a short one, so that 100
saves fit in the test's time. All lives start loading at once (startup is most of the cost); each opens
the folder only once the previous one is dead.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.editing.editor import AUTOSAVE_MS
from fcn_core import FCNBundle, LabelDocument, Workspace, read_label_png, save_checkpoint
from fcn_core.storage.atomic import remove_stale_temps
from fcn_core.model.palette import voc_colormap
from tests.helpers.models import randomize, tiny_meta
from tests.helpers.faults import leftovers

ROOT = Path(__file__).resolve().parents[2]
ROWS, WIDTH = 120, 640
AUTOSAVES = 100
FAST_MS = 5
FAST_LIVES = 5
LINE_TIMEOUT_S = 90


class _Life:
    """One run of tests/helpers/autosave_app.py, waiting for ``go START`` before it opens the folder."""

    def __init__(self, model: Path, folder: Path, autosave_ms: int, log: Path) -> None:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
        self.log = log
        self._err = open(log, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.autosave_app", str(model), str(folder), str(ROWS), "--wait",
             "--autosave-ms", str(autosave_ms)],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def go(self, start: int) -> None:
        self.proc.stdin.write(f"go {start}\n")
        self.proc.stdin.flush()

    def saved_row(self) -> int:
        """The next row the app reports saved (skipping ``ready``)."""
        while True:
            try:
                line = self.lines.get(timeout=LINE_TIMEOUT_S)
            except queue.Empty:
                line = "timeout"
            if line != "ready":
                break
        if line is None or line == "timeout":
            self.kill()
            pytest.fail(f"the app stopped reporting ({line}): {self.log.read_text()[-2000:]}")
        return int(line)

    def reported_after_kill(self) -> list[int]:
        """Rows the app reported saved that were still in the pipe when it was killed."""
        rows = []
        while (line := self.lines.get(timeout=LINE_TIMEOUT_S)) is not None:
            if line != "ready":
                rows.append(int(line))
        return rows

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()  # SIGKILL
        self.proc.wait()
        self._err.close()


def _check(ws: Workspace, image: Path, seed: np.ndarray, last: int, before: set[Path]) -> tuple[bool, set[Path]]:
    """The files after a kill: whole, rows 0..last saved, row last+1 old or new, the rest as seeded; the mask
    loaded with them is theirs; the temporary files the kill before left (``before``) are gone, swept when the
    next life opened the folder. (New row on disk?, the temporary files this kill left.)"""
    labels = read_label_png(ws.label_path(image))  # a valid PNG, never half-written
    assert labels.shape == (ROWS, WIDTH)
    for i in range(last + 1):  # every stroke reported saved is on disk
        assert (labels[i] == 1 + i % 4).all(), (i, last)
    nxt, old = (labels[last + 1], seed[last + 1]) if last + 1 < ROWS else (seed[:0], seed[:0])
    new = bool(nxt.size) and (nxt == 1 + (last + 1) % 4).all()
    assert new or (nxt == old).all(), "the stroke after the last saved one is torn"
    assert (labels[last + 2:] == seed[last + 2:]).all()  # at most that one stroke is lost, nothing else changed
    copy = read_label_png(ws.verified_path(image)) > 0  # the readable copy: whole, at most one save behind
    assert copy[: last + 1].all() and not copy[last + 2:].any()
    json.loads(ws.state_path(image).read_text())
    torn = set(leftovers(ws.root))
    assert not torn & before, "a kill's temporary files outlived the next start"
    loaded, verified = ws.load(image, (ROWS, WIDTH), 5)
    assert np.array_equal(loaded, labels)
    expect = np.arange(ROWS)[:, None] <= last + int(new)  # the mask belongs to these labels, never to older ones
    assert np.array_equal(verified, np.broadcast_to(expect, verified.shape))
    return bool(new), torn


@pytest.mark.slow
def test_killed_at_random_moments_during_100_autosaves_keeps_every_saved_stroke(tmp_path):
    model = tmp_path / "m.pt"
    save_checkpoint(randomize(FCNBundle(tiny_meta(n_class=5))), model)
    folder = tmp_path / "imgs"
    folder.mkdir()
    image = folder / "a.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (ROWS, WIDTH, 3), dtype=np.uint8)).save(image)
    ws = Workspace.beside(folder)  # start from saved labels so every row's state is known; noise makes the
    colors = np.asarray(voc_colormap(5))  # files big enough that kills often land inside a write
    seed = np.random.default_rng(2).integers(0, 5, (ROWS, WIDTH), dtype=np.uint8)
    ws.save(image, LabelDocument(seed, n_class=5), colors, tuple(f"c{i}" for i in range(5)))
    ws.load(image, (ROWS, WIDTH), 5)  # only a process's first load sweeps: what goes later, the next life swept
    rng = np.random.default_rng(1)
    t0 = time.monotonic()
    first = int(rng.integers(3, 7))  # strokes of the first life, at the app's own autosave delay
    strokes = [first, *(10 + rng.multinomial(AUTOSAVES - first - 10 * FAST_LIVES, [1 / FAST_LIVES] * FAST_LIVES))]
    lives = [_Life(model, folder, AUTOSAVE_MS if k == 0 else FAST_MS, tmp_path / f"life{k}.log")
             for k in range(len(strokes))]  # all start loading now; each opens the folder only when told
    saves, start, next_row_on_disk, torn, cut = 0, 0, 0, set(), 0
    try:
        for life, n in zip(lives, strokes):
            life.go(start)
            last = start - 1
            for _ in range(n):
                last = life.saved_row()
            time.sleep(float(rng.uniform(0, 0.04)))  # somewhere in the next stroke or its save
            life.kill()
            last = max([last, *life.reported_after_kill()])
            on_disk, torn = _check(ws, image, seed, last, torn)
            next_row_on_disk, cut = next_row_on_disk + on_disk, cut + len(torn)
            saves += last - start + 1
            start = last + 1
    finally:
        for life in lives:
            life.kill()
    assert saves >= AUTOSAVES and len(lives) >= 4
    assert sorted(remove_stale_temps(ws.root)) == sorted(torn) and leftovers(ws.root) == []
    print(f"{saves} autosaves, {len(lives)} kills ({next_row_on_disk} with the unreported stroke already on disk, "
          f"{cut} cut mid-write), {time.monotonic() - t0:.1f} s")
