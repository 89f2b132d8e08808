"""Writing a folder all at once: build it in a hidden sibling, then move it into place, or leave no trace.

A failure or a cancel while the contents are written (disk full, a write error, Ctrl+C) removes the hidden
folder and leaves the target exactly as it was. A missing or empty target receives the new folder in one
rename (atomic, even against a kill); a target that already holds things gets the named entries swapped in
by renames, the old entries kept until every new one is in place, and a failed swap rolled back. A kill
leaves the hidden folder behind; the next export into the same target removes it.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .atomic import fsync_dir
from .writer_locks import claim, open_held

STAGE_MARK = ".staging-"
_REPLACED = ".replaced"
_SWAPPED = ".swapped"  # the swap is complete: what .replaced holds is no longer needed


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
            old_data = os.path.exists(os.path.join(e.path, _REPLACED))
            if stale and (not old_data or os.path.exists(os.path.join(e.path, _SWAPPED))):
                shutil.rmtree(e.path, ignore_errors=True)
                removed.append(Path(e.path))
    return removed


def _swap_in(stage: Path, target: Path, entries: tuple[str, ...]) -> None:
    """Move each entry of ``stage`` into ``target``, the old one aside first; roll everything back on failure."""
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
def staged_folder(target: str | Path, entries: tuple[str, ...]) -> Iterator[Path]:
    """Yield an empty hidden folder beside ``target``; when the block succeeds, its ``entries`` land in ``target``.

    ``entries`` are relative paths (``"ImageSets/Segmentation"`` is one). On any exception the hidden folder
    is removed and ``target`` is unchanged.
    """
    target = Path(target).resolve()  # "." gets a name, a symlinked folder its real place
    if target.exists() and not target.is_dir():
        raise ValueError(f"{target} is a file, not a folder")
    made = _make_parents(target.parent)
    remove_stale_stages(target)
    stage = target.parent / f".{target.name}{STAGE_MARK}{secrets.token_hex(4)}"
    try:
        os.mkdir(stage)
    except BaseException:
        _remove_empty(made)
        raise
    lock = open_held(stage)  # held until the export is in place or gone: a sweep leaves a live stage alone
    try:
        yield stage
        fsync_dir(stage)
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
