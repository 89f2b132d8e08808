"""The small JSON record beside each downloaded weights file: where it came from, its size, md5 and sha256.

For the Caffe files, which have no published checksum, the record's sha256 is what a later check compares
against. A file put into the cache by hand gets its record the first time ``get`` finds it. No torch.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..storage.atomic import atomic_write_bytes
from ..storage.json_input import parse_json
from ..storage.regular_files import read_regular
from .cache import RECORD_SUFFIX
from .catalog import PublicWeights
from .errors import DownloadCancelled, WeightsError

HASH_CHUNK = 1 << 20
MAX_RECORD_BYTES = 64 << 10


class Hashes:
    """md5 (what torchfcn publishes) and sha256 (what this app records), fed together."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.md5, self.sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()

    def update(self, data: bytes) -> None:
        self.md5.update(data)
        self.sha256.update(data)


@dataclass(frozen=True)
class Fetched:
    """A public weights file in the cache: ``url`` is None when it was there already."""

    name: str
    path: Path
    size: int
    md5: str
    sha256: str
    checked: bool  # its md5 is the published one (False: none is published)
    url: str | None
    resumed_from: int = 0  # bytes a cut-off download had fetched before this one went on


def record_path(path: Path) -> Path:
    return path.with_name(path.name + RECORD_SUFFIX)


def write_record(fetched: Fetched) -> None:
    """Write the record beside ``fetched.path`` (atomically)."""
    record = {"name": fetched.name, "file": fetched.path.name, "bytes": fetched.size, "md5": fetched.md5,
              "sha256": fetched.sha256, "md5_published": fetched.checked, "url": fetched.url,
              "recorded": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    atomic_write_bytes(record_path(fetched.path), (json.dumps(record, indent=1) + "\n").encode())


def read_record(entry: PublicWeights, path: Path) -> Fetched | None:
    """The record of ``path`` if it describes the file as it is now (its size, and the published md5)."""
    try:
        record = parse_json(read_regular(record_path(path), MAX_RECORD_BYTES, "record"), record_path(path).name)
        size = path.stat().st_size
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("file") != path.name or record.get("bytes") != size:
        return None
    md5, sha256 = record.get("md5"), record.get("sha256")
    if not isinstance(md5, str) or not isinstance(sha256, str) or (entry.md5 is not None and md5 != entry.md5):
        return None
    return Fetched(entry.name, path, size, md5, sha256, entry.md5 is not None, None)


def adopt(entry: PublicWeights, path: Path, cancelled: Callable[[], bool] | None = None) -> Fetched:
    """``path`` is in the cache already: its record, or (put there by hand) its hashes checked and recorded."""
    known = read_record(entry, path)
    if known is not None:
        return known
    hashes = Hashes()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(HASH_CHUNK), b""):
            if cancelled is not None and cancelled():
                raise DownloadCancelled(f"cancelled while checking {path.name}")
            hashes.update(block)
    md5 = hashes.md5.hexdigest()
    if entry.md5 is not None and md5 != entry.md5:
        raise WeightsError(f"{path} is in the cache but its md5 is {md5}, not the published {entry.md5}: "
                           "remove it and get it again")
    fetched = Fetched(entry.name, path, path.stat().st_size, md5, hashes.sha256.hexdigest(), entry.md5 is not None, None)
    write_record(fetched)
    return fetched
