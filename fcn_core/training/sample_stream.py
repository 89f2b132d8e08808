"""The trainer's samples as one endless, seeded stream that the ranks of a distributed run share out.

Position p of the stream is item ``perm_e[p mod N]`` of the dataset, where ``perm_e`` is epoch ``e = p div N``'s
seeded shuffle, augmented (crop, flip, scale, mosaic tiles) with a random generator seeded by (seed, p). What a
position holds thus depends on the seed and p alone, not on which process draws it nor on what it drew
before: a step of a global batch G takes positions [s, s + G), rank r of W the block
[s + r·G/W, s + (r+1)·G/W). So W processes with batch B each see, at every step, exactly the samples one
process with batch W·B sees, and a run resumed on another number of processes continues the same stream.
"""

from __future__ import annotations

import numpy as np
import torch


def _mix(*words: int) -> int:
    """A 63-bit seed from a few integers (NumPy's SeedSequence: nearby inputs give unrelated seeds)."""
    state = np.random.SeedSequence([w & 0xFFFF_FFFF_FFFF_FFFF for w in words]).generate_state(1, np.uint64)
    return int(state[0]) >> 1


class SampleStream:
    """Batches of (images, labels) from ``dataset``'s endless seeded stream, starting at ``position``."""

    def __init__(self, dataset: torch.utils.data.Dataset, seed: int, position: int = 0) -> None:
        self.dataset, self.seed, self.position = dataset, seed, position
        self.n = len(dataset)
        self._epoch, self._order = -1, torch.arange(0)

    def index(self, position: int) -> int:
        """The dataset item at ``position``: its epoch's seeded shuffle."""
        epoch = position // self.n
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(_mix(self.seed, 0, epoch))
            self._epoch, self._order = epoch, torch.randperm(self.n, generator=g)
        return int(self._order[position % self.n])

    def item(self, position: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The augmented sample at ``position``; the process's own random state is left as it was."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_mix(self.seed, 1, position))
            return self.dataset[self.index(position)]

    def next_batch(self, batch: int, rank: int = 0, world: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Rank ``rank``'s ``batch`` samples of the next global batch (``batch × world`` positions)."""
        start = self.position + rank * batch
        items = [self.item(p) for p in range(start, start + batch)]
        self.position += batch * world
        return torch.stack([im for im, _ in items]), torch.stack([lab for _, lab in items])
