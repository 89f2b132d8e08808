"""Peak memory of a block of work: CUDA allocator peak, or the process's resident-set high-water mark."""

from __future__ import annotations

from pathlib import Path

import torch

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _rss_hwm_kb() -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


class PeakMemory:
    """``with PeakMemory(device) as p: ...`` then ``p.megabytes`` and ``p.added_megabytes`` (None where unknown).

    CUDA: the allocator's peak during the block, and its rise over the allocation at entry. CPU (Linux):
    the process's peak resident set during the block (reset at entry where the kernel allows it, else
    the peak since the process started), and its rise over the resident set at entry.
    """

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self.megabytes: float | None = None
        self.added_megabytes: float | None = None
        self._start: float | None = None

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device) / 2**20
        else:
            try:
                _CLEAR_REFS.write_text("5")  # resets VmHWM to the current RSS
            except OSError:
                pass
            kb = _rss_hwm_kb()
            self._start = kb / 1024 if kb is not None else None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.megabytes = torch.cuda.max_memory_allocated(self.device) / 2**20
        else:
            kb = _rss_hwm_kb()
            self.megabytes = kb / 1024 if kb is not None else None
        if self.megabytes is not None and self._start is not None:
            self.added_megabytes = max(0.0, self.megabytes - self._start)
