"""Writing a folder all at once: build it in a hidden sibling, then move it into place, or leave no trace.

A failure or a cancel while the contents are written (disk full, a write error, Ctrl+C) removes the hidden
folder and leaves the target exactly as it was. A missing or empty target receives the new folder in one
rename (atomic, even against a kill); a target that already holds things gets the named entries swapped in
by renames, the old entries kept until every new one is in place, and a failed swap rolled back. A kill
leaves the hidden folder behind; the next export into the same target removes it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ..messages import one_line

from .atomic import fsync_dir
from .writer_locks import claim, open_held, wait_held

STAGE_MARK = ".staging-"
_PENDING = ".pending-"  # a stage's name until its lock is held: no sweep touches it
_REPLACED = ".replaced"
_SWAPPED = ".swapped"  # the swap is complete: what .replaced holds is no longer needed
_ENTRIES = ".swap-entries"  # written before a swap starts: what a killed swap still has to move, to finish it


class TargetTaken(ValueError):
    """The target received a dataset from another writer while this one was being written."""


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing ancestors; return the ones created, deepest first."""
    missing = []
    p = folder
    while not p.exists():
        missing.append(p)
        p = p.parent
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for p in folders:
        try:
            p.rmdir()
        except OSError:
            return


def remove_stale_stages(target: str | Path) -> list[Path]:
    """Delete the hidden folders that exports into ``target`` killed before they finished left beside it.

    A folder its export still holds is kept, and so is one holding old contents a swap cut short left there.
    """
    target = Path(target).resolve()
    pattern = re.compile(rf"^\.{re.escape(target.name)}{re.escape(STAGE_MARK)}[0-9a-f]+$")
    removed = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    for e in entries:
        if not (pattern.match(e.name) and e.is_dir(follow_symlinks=False)):
            continue
        with claim(e.path) as stale:
            if not stale:
                continue
            stage = Path(e.path)
            if (stage / _REPLACED).exists() and not (stage / _SWAPPED).exists():
                if not _finish_swap(stage, target):
                    continue  # no record of what to move: the old data stays where it is, for a person to see
            shutil.rmtree(stage, ignore_errors=True)
            removed.append(stage)
    return removed


def _finish_swap(stage: Path, target: Path) -> bool:
    """Complete the swap a killed writer began (its contents were complete before any entry moved): every
    entry still in ``stage`` moves into ``target``, the old one aside first. False when there is no record."""
    try:
        entries = json.loads((stage / _ENTRIES).read_text())
    except (OSError, ValueError):
        return False
    if not (isinstance(entries, list) and all(isinstance(e, str) and ".." not in e for e in entries)):
        return False
    old = stage / _REPLACED
    for e in entries:
        if not (stage / e).exists():
            continue  # moved before the kill, or not part of this export
        dst = target / e
        if dst.exists() or dst.is_symlink():  # still the old one: the new one is in the stage
            (old / e).parent.mkdir(parents=True, exist_ok=True)
            os.replace(dst, old / e)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(stage / e, dst)
    (stage / _SWAPPED).touch()
    fsync_dir(target)
    return True


def _swap_in(stage: Path, target: Path, entries: Sequence[str]) -> None:
    """Move each entry of ``stage`` into ``target``, the old one aside first; roll everything back on failure."""
    (stage / _ENTRIES).write_text(json.dumps(list(entries)))
    fsync_dir(stage)
    old = stage / _REPLACED
    old.mkdir()
    done: list[str] = []
    created: list[Path] = []
    try:
        for e in entries:
            if not (stage / e).exists():
                continue
            dst = target / e
            (old / e).parent.mkdir(parents=True, exist_ok=True)
            created += _make_parents(dst.parent)
            if dst.exists():
                os.replace(dst, old / e)
            done.append(e)
            os.replace(stage / e, dst)
    except BaseException as err:
        try:
            for e in reversed(done):
                dst = target / e
                if dst.exists() and not (stage / e).exists():
                    os.replace(dst, stage / e)
                if (old / e).exists():
                    os.replace(old / e, dst)
            _remove_empty(created)
        except OSError:
            raise OSError(getattr(err, "errno", None),
                          f"{getattr(err, 'strerror', None) or err}; the previous contents of {target} "
                          f"could not all be put back: the missing parts are in {old}") from err
        shutil.rmtree(old)
        raise


@contextmanager
def staged_folder(target: str | Path, entries: Sequence[str],
                  still_free: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Yield an empty hidden folder beside ``target``; when the block succeeds, its ``entries`` land in ``target``.

    ``entries`` are relative paths (``"ImageSets/Segmentation"`` is one), read when the stage lands (a writer
    that learns its entries while writing passes a list it fills). ``still_free(target)`` is called at
    the landing, under a lock that other staged writes into the same folder wait for, and raises if the target
    may no longer be written (another writer's dataset arrived meanwhile): two writers that both found the
    target free never both land. On any exception the hidden folder is removed and ``target`` is unchanged.
    """
    try:
        target = Path(target).resolve()  # "." gets a name, a symlinked folder its real place
    except (RuntimeError, OSError) as e:  # a symlink loop
        raise ValueError(f"{target} cannot be used as a folder: {one_line(e)}") from None
    if target.exists() and not target.is_dir():
        raise ValueError(f"{target} is a file, not a folder")
    made = _make_parents(target.parent)
    remove_stale_stages(target)
    token = secrets.token_hex(4)
    pending, stage = (target.parent / f".{target.name}{mark}{token}" for mark in (_PENDING, STAGE_MARK))
    try:
        os.mkdir(pending)
        lock = open_held(pending)  # held until the export is in place or gone: a sweep leaves a live stage alone
        os.rename(pending, stage)  # a sweep sees it only now, locked
    except BaseException:
        shutil.rmtree(pending, ignore_errors=True)
        _remove_empty(made)
        raise
    try:
        yield stage
        fsync_dir(stage)
        with _landing_lock(target.parent):
            if still_free is not None:
                still_free(target)
            if not target.exists() or (not any(target.iterdir()) and target != Path.cwd()):
                os.replace(stage, target)  # rename(2) also replaces an empty folder, in one step
            else:
                _swap_in(stage, target, entries)
                (stage / _SWAPPED).touch()
    except BaseException:
        if not (stage / _REPLACED).exists():  # never delete old data a failed rollback left there
            shutil.rmtree(stage, ignore_errors=True)
            _remove_empty(made)
        raise
    finally:
        if lock is not None:
            os.close(lock)
    shutil.rmtree(stage, ignore_errors=True)  # what is left: the entries the new ones replaced
    fsync_dir(target.parent)


@contextmanager
def _landing_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` (the target's parent) while a stage lands: the check and the move are
    one step for every staged writer of this app. Without ``flock`` (Windows) nothing is locked."""
    fd = wait_held(folder)
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)
