"""Reading files that may be anything: only regular files are opened, and never more than a bound is read.

A FIFO where a file is expected would block ``open()`` until some writer came along (forever, in practice); a
device could stream without end. Both are refused here in one sentence, before any byte is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


class NotARegularFile(ValueError):
    """A path that is not a readable regular file within its size bound, with one sentence saying why."""


def _describe(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def open_regular(path: str | Path, limit: int | None = None, what: str = "file") -> BinaryIO:
    """``path`` opened for reading, after checking it is a regular file of at most ``limit`` bytes.

    Opening never blocks (``O_NONBLOCK``: a FIFO is refused, not waited on). Raises :class:`NotARegularFile`.
    """
    path = Path(path)
    try:
        fd = os.open(path, _FLAGS)
    except FileNotFoundError:
        raise NotARegularFile(f"{path} does not exist") from None
    except IsADirectoryError:
        raise NotARegularFile(f"{path} is a folder, not a file") from None
    except OSError as e:
        raise NotARegularFile(f"{path} cannot be read: {e.strerror or e}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotARegularFile(f"{path} is {_describe(st.st_mode)}, not a regular file, so it is not read")
        if limit is not None and st.st_size > limit:
            raise NotARegularFile(f"{path.name} is {st.st_size:,} bytes, more than a {what} may be "
                                  f"({limit:,} bytes)")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | Path, limit: int, what: str = "file") -> bytes:
    """The bytes of the regular file ``path`` (at most ``limit``; a file that grows past it is refused)."""
    with open_regular(path, limit, what) as f:
        try:
            data = f.read(limit + 1)
        except OSError as e:
            raise NotARegularFile(f"{path} cannot be read: {e.strerror or e}") from None
    if len(data) > limit:
        raise NotARegularFile(f"{Path(path).name} is more than {limit:,} bytes, more than a {what} may be")
    return data
