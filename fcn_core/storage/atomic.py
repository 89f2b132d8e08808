"""Atomic file writes: a crash leaves the old file or the new one, never half of one."""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path
from typing import Callable

from .writer_locks import claim, hold

# Temporary files are named ``.fcnwb-<file>.<8 random>.tmp``: a sweep deletes only names with this prefix, never
# a person's own ``.notes.2024.tmp``. They are created as ``.fcnwb~…`` (a name no sweep touches while it is
# fresh), locked, and only then renamed: a sweep can never take a file between its creation and its lock.
TEMP_PREFIX = ".fcnwb-"
PENDING_PREFIX = ".fcnwb~"
PENDING_AGE_S = 3600.0  # a pending name older than this was left by a writer killed in that instant
_TEMP_SUFFIX = r"\.[a-z0-9_]{8}\.tmp$"  # mkstemp's 8 characters, then our suffix


def fsync_dir(folder: Path) -> None:
    """fsync a folder, so a rename in it survives a power cut (where the system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_via(path: str | Path, write: Callable[[str], None], durable: bool = True) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, fsync it, then rename it over ``path``.

    ``durable=False`` skips the two fsyncs: the file still appears whole or not at all while the system
    runs, but a power cut may lose it; for outputs that a rerun recreates (``predict``), where the
    fsyncs would cost more than computing them."""
    path = Path(path)
    fd, pending = tempfile.mkstemp(prefix=f"{PENDING_PREFIX}{path.name}.", suffix=".tmp", dir=path.parent)
    lock = hold(fd)  # until the file is in place: a sweep never takes a write in progress for a leftover
    tmp = os.path.join(path.parent, TEMP_PREFIX + os.path.basename(pending)[len(PENDING_PREFIX):])
    try:
        os.rename(pending, tmp)  # locked already: from here on a sweep may see it, and must leave it
    except BaseException:
        _unlink(pending)
        if lock is not None:
            os.close(lock)
        raise
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        # mkstemp makes 0600 files; keep the old file's mode, or give the usual 0644
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise
    finally:
        if lock is not None:
            os.close(lock)
    if durable:
        fsync_dir(path.parent)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def atomic_write_bytes(path: str | Path, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (``durable`` as in :func:`atomic_write_via`)."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(data)
    atomic_write_via(path, write, durable)


def remove_stale_temps(folder: str | Path, target: str | None = None) -> list[Path]:
    """Delete the temporary files that writers killed mid-write left in ``folder``; return what was removed.

    Only regular files named as :func:`atomic_write_via` names them (those of the file ``target`` alone, if
    given), and only those no writer holds, are touched: a write in progress, here or in another process,
    keeps its file; a file of another name, or a FIFO, is never opened.
    """
    name = re.escape(target) if target else r".+"
    live = re.compile(rf"^{re.escape(TEMP_PREFIX)}{name}{_TEMP_SUFFIX}")
    pending = re.compile(rf"^{re.escape(PENDING_PREFIX)}{name}{_TEMP_SUFFIX}")
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for e in entries:
        try:
            if not e.is_file(follow_symlinks=False):
                continue
            if not live.match(e.name) and not (pending.match(e.name)
                                               and now - e.stat(follow_symlinks=False).st_mtime > PENDING_AGE_S):
                continue
        except OSError:
            continue
        with claim(e.path) as stale:
            if stale:
                try:
                    os.unlink(e.path)
                    removed.append(Path(e.path))
                except OSError:
                    pass
    return removed
