"""Memory is budgeted before large buffers are allocated: what is free now, and a refusal in one sentence.

"Free" is the smaller of what the system has available (``MemAvailable``) and what this process may still map
under its address-space limit (``ulimit -v``, ``prlimit --as``). Where neither can be read, nothing is refused
here and allocation failures are left to the callers' ``MemoryError`` handling.
"""

from __future__ import annotations

import resource
from pathlib import Path

HEADROOM = 0.85  # of what is free, the share one buffer set may take (the rest: the libraries' own transients)


class MemoryBudgetError(ValueError):
    """A buffer set larger than the memory this process can get; the sentence names the size and the limit."""


def _status_kib(path: str, key: str) -> int | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def free_bytes() -> int | None:
    """Bytes this process can still allocate, as far as the system says; None when it cannot tell."""
    limits = []
    available = _status_kib("/proc/meminfo", "MemAvailable")
    if available is not None:
        limits.append(available * 1024)
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        mapped = _status_kib("/proc/self/status", "VmSize")
        if mapped is not None:
            limits.append(max(0, soft - mapped * 1024))
    return min(limits) if limits else None


def gb(n: float) -> str:
    """Bytes as a person reads them: "3.4 GB", or "57 MB" below a gigabyte."""
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def ensure_fits(need: int, what: str) -> None:
    """Refuse (:class:`MemoryBudgetError`) when ``need`` bytes for ``what`` exceed the budget."""
    free = free_bytes()
    if free is not None and need > HEADROOM * free:
        raise MemoryBudgetError(f"{what} needs about {gb(need)} of memory, more than the {gb(HEADROOM * free)} this process "
                                "can get now; nothing was computed")
