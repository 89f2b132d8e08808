"""Which of several exact forms of a computation is fastest on this CPU, found by timing them.

Which form wins is not the same on every processor. conv1_2 (64→64 channels on a 518×518 grid at
500×500) as NNPACK's Winograd convolution against oneDNN's prepacked direct one: 53 ms against 90 on
this project's AMD EPYC of family 25 (512-bit vectors in two halves, where NNPACK's AVX2 kernels lose
nothing), while on the machine of an earlier session, whose oneDNN ran the whole reference net twice as
fast, NNPACK did not pay there. On a 160×160 grid the two tie, so a small probe would not tell. The
engine therefore times both forms on the first real input large enough to matter, as cuDNN's autotuner
does on a GPU, and keeps the winner for the rest of the process.
"""

from __future__ import annotations

import time
from typing import Callable

RACE_ROUNDS = 3  # each form runs three times, in turn; its best time counts (the first runs pay one-time
# costs: NNPACK's first conv1_2 took 165 ms, its next ones 72-74, oneDNN's 92-103)


def race(forms: dict[str, Callable[[], object]], rounds: int = RACE_ROUNDS) -> str:
    """The name of the fastest form: each runs ``rounds`` times, in turn (so all see the same machine
    load), and is judged by its best time. Results are dropped as they come: one form's at a time."""
    best = {name: float("inf") for name in forms}
    for _ in range(rounds):
        for name, form in forms.items():
            start = time.perf_counter()
            form()
            best[name] = min(best[name], time.perf_counter() - start)
    return min(best, key=lambda name: best[name])
