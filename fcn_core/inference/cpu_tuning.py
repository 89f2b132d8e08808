"""Process settings that make CPU inference faster.

PyTorch's CPU allocator hands large tensors straight to glibc, which maps them with mmap and unmaps
them on free, so every inference page-faults its activations in again. Keeping freed memory in the heap
removes that cost for work on the main thread (glibc's thread arenas still map blocks over 64 MB). It is process-wide, so the command line
turns it on (the reference path in a benchmark run benefits as much as the engine); the window, whose
inference runs on a worker thread and which should give memory back, does not.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_NEVER = -1  # as a trim threshold: glibc reads it as the largest size_t
_done = False


def keep_freed_memory() -> bool:
    """Ask glibc malloc to serve large blocks from the heap and keep them after free (once; Linux only)."""
    global _done
    if _done:
        return True
    if os.environ.get('FCN_KEEP_MMAP'):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        # never trimmed: with a 1 GB threshold a 2048×2048 image's freed conv1 activations (1.1 GB each)
        # went back to the system after every image and were faulted in again in the next (266,000 page
        # faults, 0.8 s a pass on this virtual machine: 8.5 s against 7.7)
        ok = libc.mallopt(_M_MMAP_MAX, 0) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, _NEVER) == 1
    except (OSError, AttributeError):  # not glibc
        return False
    _done = ok
    return ok
