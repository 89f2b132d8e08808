"""The command line keeps freed memory in its heap: a large block freed is not handed back to the system."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")

# in a fresh process: a 1.2 GB block (never touched, so it costs no memory) allocated and freed on the
# main thread, then glibc's count of free bytes kept in its heap (mallinfo2, glibc ≥ 2.33); "no mallinfo2"
# where that cannot be asked or the block cannot be had
_PROBE = textwrap.dedent("""
    import ctypes, sys
    from fcn_core.inference.cpu_tuning import keep_freed_memory

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                     "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    if not hasattr(libc, "mallinfo2"):
        print("no mallinfo2"); sys.exit(0)
    libc.mallinfo2.restype = MallInfo2
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    if sys.argv[1] == "keep":
        assert keep_freed_memory()
    block = libc.malloc(1_200_000_000)
    if not block:  # no room for 1.2 GB of address space here
        print("no mallinfo2"); sys.exit(0)
    libc.free(block)
    print(libc.mallinfo2().fordblks)
""")


def _free_bytes_kept(mode: str) -> int | None:
    env = {k: v for k, v in os.environ.items() if k != "FCN_KEEP_MMAP"}  # that switch turns the setting off
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True,
                         env=env).stdout
    return None if out.startswith("no mallinfo2") else int(out)


def test_a_freed_gigabyte_block_stays_in_the_heap():
    kept = _free_bytes_kept("keep")
    if kept is None:
        pytest.skip("glibc without mallinfo2, or no room for the block")
    assert kept >= 1_200_000_000  # a 2048×2048 image's conv1 activations are 1.1 GB each
    assert _free_bytes_kept("default") < 1_200_000_000  # without it glibc maps and unmaps such a block
