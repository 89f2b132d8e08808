"""Fault injection for the tests: a disk that fills up after N bytes, a rename that fails once."""

from __future__ import annotations

import builtins
import errno
import os
from pathlib import Path


class _FillingFile:
    """A file whose writes stop with ENOSPC once the shared byte budget is spent (the part that fits lands)."""

    def __init__(self, f, budget: list[int]) -> None:
        self._f, self._budget = f, budget

    def write(self, data) -> int:
        n = len(data)
        if n > self._budget[0]:
            self._f.write(data[: self._budget[0]])
            self._budget[0] = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._budget[0] -= n
        return self._f.write(data)

    def __enter__(self) -> "_FillingFile":
        return self

    def __exit__(self, *exc) -> None:
        self._f.close()

    def __getattr__(self, name: str):
        return getattr(self._f, name)


def disk_full_after(monkeypatch, nbytes: int) -> list[int]:
    """From now on every file opened for writing shares ``nbytes`` of space; returns the budget left (a list)."""
    real_open = builtins.open
    budget = [nbytes]

    def open_(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        return _FillingFile(f, budget) if any(c in mode for c in "wax+") else f

    monkeypatch.setattr(builtins, "open", open_)
    return budget


def replace_fails_at(monkeypatch, n: int, code: int = errno.EIO) -> list[int]:
    """The ``n``-th ``os.replace`` from now (0-based) raises OSError(``code``); every other one works. Returns [calls]."""
    real_replace = os.replace
    calls = [0]

    def replace(src, dst, *args, **kwargs):
        k = calls[0]
        calls[0] += 1
        if k == n:
            raise OSError(code, os.strerror(code), str(src))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    return calls


def leftovers(root: Path) -> list[Path]:
    """Temporary or staging files and folders anywhere under ``root``."""
    return [p for p in Path(root).rglob(".*") if p.name.endswith(".tmp") or ".staging-" in p.name]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path → bytes), to compare trees."""
    root = Path(root)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()} if root.exists() else {}


def full_workspace_disk(monkeypatch, roots=None) -> dict:
    """Workspace saves fail with ENOSPC while ``state["full"]`` (only for workspaces under ``roots``, if given)."""
    from fcn_core import Workspace

    real = Workspace.save
    state = {"full": True}

    def save(self, *a, **k):
        if state["full"] and (roots is None or self.root in roots):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, *a, **k)

    monkeypatch.setattr(Workspace, "save", save)
    return state
