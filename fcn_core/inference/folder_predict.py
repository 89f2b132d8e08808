"""Segmenting many images fast: parallel decoding, prefetch, batches of equal sizes, background writes.

The model runs on the calling thread; decoding and writing run on thread pools (image codecs release
the GIL), so the device is never idle waiting for files. Every output is written atomically, so a
cancel or a crash leaves complete files only.
"""

from __future__ import annotations

import io
import os
import threading
from collections import defaultdict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..model.palette import full_palette
from ..storage.atomic import atomic_write_bytes, remove_stale_temps
from ..storage.image_io import ImageReadError, read_image, write_label_png
from .engine import Engine
from .results import Prediction


@dataclass
class FolderReport:
    """What a run did: images segmented, images refused (with the reason), whether it was cancelled."""

    done: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    cancelled: bool = False


def _read(path: Path) -> tuple[Path, np.ndarray | None, str | None]:
    try:
        return path, read_image(path), None
    except ImageReadError as e:
        return path, None, str(e)


class _Writer:
    """Writes each image's outputs on a pool; ``drain`` waits for all and re-raises the first error."""

    def __init__(self, out: Path, palette: np.ndarray, save_logits: bool, workers: int) -> None:
        self.out, self.palette, self.save_logits = out, palette, save_logits
        self.pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="fcn-write")
        self.pending: deque[Future] = deque()
        self.limit = 4 * max(1, workers)

    def _write(self, path: Path, preds: dict[str, Prediction]) -> None:
        # outputs a rerun recreates: whole files (atomic renames), without an fsync each (docs/speed.md)
        for v, pred in preds.items():
            write_label_png(self.out / f"{path.stem}_{v}.png", pred.labels, self.palette, durable=False)
            if self.save_logits:
                buf = io.BytesIO()
                np.save(buf, pred.scores.astype(np.float32, copy=False))
                atomic_write_bytes(self.out / f"{path.stem}_{v}.npy", buf.getvalue(), durable=False)

    def submit(self, path: Path, preds: dict[str, Prediction]) -> None:
        while len(self.pending) >= self.limit:  # bounded: results do not pile up in memory
            self.pending.popleft().result()
        self.pending.append(self.pool.submit(self._write, path, preds))

    def drain(self) -> None:
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            self.pool.shutdown(wait=True)


def _name_clashes(paths: Sequence[Path]) -> tuple[Path, Path] | None:
    """Two different images whose outputs would share a name (same stem), or None."""
    seen: dict[str, Path] = {}
    for p in paths:
        other = seen.setdefault(p.stem, p)
        if other != p:
            return other, p
    return None


def predict_folder(engine: Engine, paths: Sequence[Path], out: Path, variants: Sequence[str],
                   save_logits: bool = False, batch: int | None = None, readers: int | None = None,
                   writers: int | None = None,
                   progress: Callable[[int, int, Path], None] | None = None,
                   cancel: threading.Event | None = None, part: tuple[int, int] = (0, 1)) -> FolderReport:
    """Segment ``paths`` into ``out`` (``<stem>_<variant>.png``, optionally ``.npy`` scores).

    Images of equal size are grouped into batches of up to ``batch`` (at most 2·batch decoded images wait
    for their group; beyond that the largest group runs as it is); unreadable images are listed in
    the report, not raised. ``progress(done, total, path)`` is called per image; setting ``cancel``
    stops after the batch in flight, whose outputs are still written completely. ``batch`` and
    ``readers`` default to 8 and min(8, cores) on CUDA, 1 and 1 on the CPU (there, batches and extra
    decoding threads compete with the model's own threads for the cores); ``writers`` to min(8, cores)
    on CUDA and 2 on the CPU.

    ``part=(k, n)`` segments ``paths[k::n]`` only (process k of n in a distributed run, each writing its own
    files into ``out``); names are checked against all of ``paths``, and ``progress`` counts the share.
    """
    clashes = _name_clashes(paths)
    if clashes:
        raise ValueError(f"{clashes[0].name} and {clashes[1]} would write the same output files "
                         f"({clashes[0].stem}_<variant>.png); rename one or run them into separate folders")
    paths = list(paths)[part[0]::part[1]]
    on_gpu = engine.device.type != "cpu"
    cores = os.cpu_count() or 4
    batch = batch or (8 if on_gpu else 1)
    readers = readers or (min(8, cores) if on_gpu else 1)
    writers = writers or (min(8, cores) if on_gpu else 2)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out)  # what an earlier run, killed mid-write, left
    report = FolderReport()
    writer = _Writer(out, full_palette(engine.meta.palette()), save_logits, writers)
    groups: dict[tuple[int, ...], list[tuple[Path, np.ndarray]]] = defaultdict(list)
    total = len(paths)

    def run(group: list[tuple[Path, np.ndarray]]) -> None:
        results = engine.predict_batch([img for _, img in group], variants)
        for (path, _), preds in zip(group, results):
            writer.submit(path, preds)
            report.done.append(path)
            if progress:
                progress(len(report.done) + len(report.failed), total, path)

    readers_pool = ThreadPoolExecutor(max(1, readers), thread_name_prefix="fcn-read")
    try:
        ahead: deque[Future] = deque(readers_pool.submit(_read, p) for p in paths[: 2 * max(batch, readers)])
        next_index = len(ahead)
        while ahead:
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                break
            path, image, error = ahead.popleft().result()
            if next_index < total:  # keep the prefetch window full
                ahead.append(readers_pool.submit(_read, paths[next_index]))
                next_index += 1
            if image is None:
                report.failed.append((path, error or "unreadable"))
                if progress:
                    progress(len(report.done) + len(report.failed), total, path)
                continue
            group = groups[image.shape]
            group.append((path, image))
            if len(group) >= batch:
                run(groups.pop(image.shape))
            elif sum(len(g) for g in groups.values()) > 2 * batch:  # many sizes: bound what waits in memory
                run(groups.pop(max(groups, key=lambda k: len(groups[k]))))
        if not report.cancelled:
            for key in list(groups):
                run(groups.pop(key))
    finally:
        for f in ahead if "ahead" in locals() else ():
            f.cancel()
        readers_pool.shutdown(wait=True, cancel_futures=True)
        writer.drain()
    return report
