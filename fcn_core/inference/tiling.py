"""Tiled inference of images larger than a memory budget: the budget, the tiles, the out-of-memory policy.

Each tile's *core* is written to the output; its *window* adds a margin of context on every side.
Window origins stay on multiples of 32, the backbone's coarsest stride, so every tile sees the same
stride-32/16/8 grids as the whole image; a margin wider than half the receptive field (404 px for
FCN-32s, plus one stride-32 cell for the upsampling) makes the core's scores those of the whole image.
"""

from __future__ import annotations

from dataclasses import dataclass

GRID = 32
DEFAULT_MARGIN = 256

# Images with more pixels than this run in tiles (CPU: bounded memory; CUDA: below the 2³¹-element
# limit of some convolution kernels for conv1's output, and out-of-memory errors switch to tiles).
CPU_MAX_PIXELS = 2048 * 2048
CUDA_MAX_PIXELS = 4096 * 4096
DEFAULT_TILE = 1024
MIN_TILE = 256  # after out-of-memory errors, tiles halve down to this; below it the image moves to the CPU


def pixel_budget(device_type: str) -> int:
    """The largest image run in one piece on a device of this type."""
    return CPU_MAX_PIXELS if device_type == "cpu" else CUDA_MAX_PIXELS


def smaller_tile(tile: int | None, height: int, width: int, largest: int = DEFAULT_TILE) -> int | None:
    """The tile to try after running out of memory with ``tile`` (None: the whole image); None when none is left."""
    nxt = min(largest, max(height, width) // 2) if tile is None else tile // 2
    return nxt if nxt >= MIN_TILE else None


@dataclass(frozen=True)
class Tile:
    """``window`` and ``core`` as (y0, y1, x0, x1) in image pixels; the core lies inside the window."""

    window: tuple[int, int, int, int]
    core: tuple[int, int, int, int]

    def core_in_window(self) -> tuple[slice, slice]:
        """Slices of the window's output that hold the core."""
        wy0, _, wx0, _ = self.window
        y0, y1, x0, x1 = self.core
        return slice(y0 - wy0, y1 - wy0), slice(x0 - wx0, x1 - wx0)


def plan_tiles(height: int, width: int, core: int, margin: int = DEFAULT_MARGIN) -> list[Tile]:
    """Cover a height×width image with cores of ``core`` pixels (rounded up to a multiple of 32)."""
    if height < 1 or width < 1:
        raise ValueError("an image needs at least one pixel")
    core = max(GRID, -(-core // GRID) * GRID)
    margin = -(-margin // GRID) * GRID
    tiles = []
    for y0 in range(0, height, core):
        for x0 in range(0, width, core):
            y1, x1 = min(height, y0 + core), min(width, x0 + core)
            window = (max(0, y0 - margin), min(height, y1 + margin), max(0, x0 - margin), min(width, x1 + margin))
            tiles.append(Tile(window, (y0, y1, x0, x1)))
    return tiles
