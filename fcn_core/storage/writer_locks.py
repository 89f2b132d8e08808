"""Advisory locks that tell a running writer's temporary file or folder from one a killed writer left.

A writer holds an exclusive ``flock`` on what it is writing until it is done; the kernel drops the lock when
the writer dies, however it dies. A sweeper may delete a leftover only while it holds that lock itself.
Where the system has no ``flock`` (Windows), or refuses one (some network file systems), nothing is claimed
and nothing is deleted.
"""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


def hold(fd: int) -> int | None:
    """Take the writer's lock on the open file or folder ``fd``; the descriptor to close when done, or None.

    Without ``flock`` the descriptor is closed at once (Windows cannot rename a file that is still open).
    """
    if fcntl is None:
        os.close(fd)
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        pass  # refused (some network file systems): the write goes on unguarded, and no sweep can claim it
    return fd


def _open_folder(folder: str | Path) -> int | None:
    if fcntl is None:
        return None
    try:
        return os.open(folder, os.O_RDONLY)
    except OSError:
        return None


def open_held(folder: str | Path) -> int | None:
    """Open ``folder`` and hold its writer's lock; the descriptor to close when done, or None."""
    fd = _open_folder(folder)
    return None if fd is None else hold(fd)


def wait_held(folder: str | Path) -> int | None:
    """Open ``folder`` and wait for its exclusive lock; the descriptor to close when done, or None (no
    ``flock``, or a folder that cannot be opened or locked: then the caller goes on unguarded)."""
    fd = _open_folder(folder)
    if fd is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        os.close(fd)
        return None
    return fd


@contextmanager
def claim(path: str | Path) -> Iterator[bool]:
    """Yield whether no writer holds ``path`` (True: its writer is gone, and the lock is ours meanwhile)."""
    if fcntl is None:
        yield False
        return
    try:  # never blocks: a FIFO put where a leftover could be is opened without waiting, then refused
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        yield False
        return
    try:
        if not (stat.S_ISREG(os.fstat(fd).st_mode) or stat.S_ISDIR(os.fstat(fd).st_mode)):
            yield False
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
