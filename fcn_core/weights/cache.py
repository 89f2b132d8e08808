"""Where downloaded public weights live, and where an offline mirror is (no torch).

The cache folder is ``$FCN_WORKBENCH_CACHE/weights`` when that variable is set, else
``$XDG_CACHE_HOME/fcn-workbench/weights``, else ``~/.cache/fcn-workbench/weights``. A mirror is a base URL (or a
local folder) that holds the catalogue's files under their own names: ``--mirror`` or ``$FCN_WORKBENCH_MIRROR``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from .catalog import PublicWeights

CACHE_ENV = "FCN_WORKBENCH_CACHE"
MIRROR_ENV = "FCN_WORKBENCH_MIRROR"
PART_SUFFIX = ".part"  # a download under way, or cut off and to be resumed
RECORD_SUFFIX = ".json"  # beside each downloaded file: where it came from, its md5 and sha256


def weights_cache_dir(override: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The folder the public weights are downloaded to (``override`` is ``--cache``; it wins)."""
    env = os.environ if env is None else env
    if override is not None and str(override).strip():
        return Path(override).expanduser()
    if env.get(CACHE_ENV, "").strip():
        return Path(env[CACHE_ENV]).expanduser() / "weights"
    base = Path(env["XDG_CACHE_HOME"]).expanduser() if env.get("XDG_CACHE_HOME", "").strip() else Path.home() / ".cache"
    return base / "fcn-workbench" / "weights"


def cached_weights(entry: PublicWeights, cache: str | Path | None = None) -> Path:
    """Where ``entry``'s file is (or will be) in the cache."""
    return weights_cache_dir(cache) / entry.file


def source_url(entry: PublicWeights, mirror: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The URL to fetch ``entry`` from: ``mirror`` (or ``$FCN_WORKBENCH_MIRROR``) + its file name, else its own URL.
    A mirror without a scheme is a local folder."""
    env = os.environ if env is None else env
    base = (mirror if mirror is not None and mirror.strip() else env.get(MIRROR_ENV, "")).strip()
    if not base:
        return entry.url
    if "://" not in base:
        return Path(base).expanduser().resolve().as_uri().rstrip("/") + "/" + entry.file
    return base.rstrip("/") + "/" + entry.file
