"""Reading and writing FCN weights in every format people have, and the public nets' catalog and downloader;
callers use this package's names only.

The names are imported on first use (PEP 562): the catalog and the downloader load no torch, so
``fcn-workbench weights list`` and ``get`` answer without it; the readers and writers load it when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_names

# public name → the module that defines it
_HOMES: dict[str, str] = {
    "read_caffemodel": "caffemodel", "write_caffemodel": "caffemodel",
    "WeightsError": "errors", "DownloadCancelled": "errors", "DownloadError": "errors",
    "bundle_from_public_nets": "loading", "describe_weights": "loading", "load_bundle": "loading",
    "read_weights_file": "loading",
    "load_checkpoint": "native", "save_checkpoint": "native",
    "PublicNet": "public_nets", "public_state_dict": "public_nets",
    "load_vgg16_into": "vgg16", "vgg16_to_backbone_state": "vgg16",
    "PublicWeights": "catalog", "find_public_weights": "catalog", "public_weights": "catalog",
    "weights_cache_dir": "cache", "cached_weights": "cache", "CACHE_ENV": "cache", "MIRROR_ENV": "cache",
    "Fetched": "records", "fetch_public_weights": "download",
}

__all__ = sorted(_HOMES)


__getattr__, __dir__ = lazy_names(__name__, _HOMES)


if TYPE_CHECKING:  # what type checkers and editors see
    from .cache import CACHE_ENV, MIRROR_ENV, cached_weights, weights_cache_dir
    from .caffemodel import read_caffemodel, write_caffemodel
    from .catalog import PublicWeights, find_public_weights, public_weights
    from .download import fetch_public_weights
    from .errors import DownloadCancelled, DownloadError, WeightsError
    from .loading import bundle_from_public_nets, describe_weights, load_bundle, read_weights_file
    from .native import load_checkpoint, save_checkpoint
    from .public_nets import PublicNet, public_state_dict
    from .records import Fetched
    from .vgg16 import load_vgg16_into, vgg16_to_backbone_state
