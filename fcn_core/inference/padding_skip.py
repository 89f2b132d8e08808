"""The backbone computed only where the answer differs from position to position — exactly.

conv1_1's 100-pixel zero padding makes every layer run on a grid far larger than the image (a 500×500
image: a 698×698 conv1 grid). Far from the image and from the grid's edges, each layer's activation does
not change from one row to the next (nor from one column to the next): every window there reads the same
values. This module keeps, per layer and per axis, one representative of each such run of identical rows
and columns, computes the layer on that compact tensor with the ordinary kernels, and expands the
result to the full grid only for the features the heads read (pool3, pool4, conv7). The products per
computed position are the ones the plain layers make, so the scores agree to float rounding.

How a run is recognised (per axis, independently, since every layer's window is a product of a row
window and a column window): each true position carries a *class*. Two positions of the same class
hold identical rows. The image's rows start as distinct classes and the padding as one zero class; a
layer's output position gets the class of the tuple of classes its window reads, so equal windows give
equal outputs. Before a layer runs, the middle of every long run is dropped (a multiple of the stride, so
the windows after it keep their alignment), leaving enough of the run that some window still lies wholly
inside it; every output window then matches, class for class, a window of the compact input.

The plan depends only on the image's height and width (and the backbone's geometry); it is built with
numpy once per size and kept (:func:`plan_for`).
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

from ..model.architecture import BackboneFeatures, VGG16Backbone
from .fast_ops import max_pool_2x2

ZERO = -1  # the class of zero-padding positions (and, in a gather, the index of a zero row)
_PARTIAL = -2  # fills the missing taps of a ceil-mode pool's last, partial window


@dataclass(frozen=True)
class Op:
    """One layer's window along one axis: kernel, stride, zero padding, ceil-mode output size."""

    name: str  # the backbone layer ("conv1_1", …, "fc7") or "pool1" … "pool5"
    kernel: int
    stride: int
    padding: int
    ceil: bool = False

    def out_length(self, length: int) -> int:
        span = length + 2 * self.padding - self.kernel
        if span < 0:
            return 0
        return (math.ceil(span / self.stride) if self.ceil else span // self.stride) + 1


@dataclass(frozen=True)
class AxisStep:
    """One layer along one axis: which input rows to gather, and where each true output lives."""

    gather: np.ndarray  # indices into the compact input along this axis; ZERO for a padding row
    implicit_padding: bool  # gather is [p zeros] + rows + [p zeros]: the layer's own padding can add them
    classes: np.ndarray  # class of each true output position
    rows: np.ndarray  # compact output index of each true output position
    compact_length: int  # outputs the compact computation produces

    @property
    def gather_without_padding(self) -> np.ndarray:
        n = int((self.gather == ZERO).sum()) // 2
        return self.gather[n:len(self.gather) - n]

    @property
    def is_full(self) -> bool:
        """Whether the compact output is the full grid, in order."""
        return self.compact_length == len(self.rows) and bool((self.rows == np.arange(len(self.rows))).all())

    def is_identity(self, compact_in: int) -> bool:
        inner = self.gather_without_padding if self.implicit_padding else self.gather
        return len(inner) == compact_in and bool((inner == np.arange(compact_in)).all())


def _windows(classes: np.ndarray, op: Op, n_out: int) -> np.ndarray:
    """n_out × kernel class tuples of the windows of ``op`` over an already padded sequence."""
    taps = op.stride * np.arange(n_out)[:, None] + np.arange(op.kernel)[None, :]
    inside = taps < len(classes)
    return np.where(inside, classes[np.minimum(taps, len(classes) - 1)], _PARTIAL)


def _cut_positions(cls: np.ndarray, op: Op, slack: int, align: int) -> np.ndarray:
    """Positions kept when every long run of one class is cut down to what ``op`` and the ``slack``
    later layers need; the cut is a multiple of ``align`` (a multiple of the stride)."""
    k = op.kernel
    # a run keeps k-1 positions before the cut and at least k-1 after it, and k+s-1 in all, so every
    # window touching the cut lies inside the run and a stride-aligned window inside the run remains
    need = max(2 * k - 2, k + op.stride - 1) + slack
    keep = np.ones(len(cls), bool)
    starts = np.flatnonzero(np.r_[True, cls[1:] != cls[:-1]])
    for a, e in zip(starts, np.r_[starts[1:], len(cls)]):
        cut = (e - a - need) // align * align
        if cut > 0:
            keep[a + k - 1:a + k - 1 + cut] = False
    return np.flatnonzero(keep)


def _home_positions(src: np.ndarray) -> np.ndarray:
    """Positions kept when the compact input is used as it is: the padding and the first position
    mapped to each compact row."""
    return np.flatnonzero((src == ZERO) | np.r_[True, src[1:] != src[:-1]])


def _match(cls: np.ndarray, kept: np.ndarray, op: Op) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(classes of the true outputs, compact output computing each, compact outputs) for the compact
    input ``kept``, or None when some true output's window has no match among the compact windows."""
    n_true, n_compact = op.out_length(len(cls) - 2 * op.padding), op.out_length(len(kept) - 2 * op.padding)
    true_windows = _windows(cls, op, n_true)
    compact_windows = _windows(cls[kept], op, n_compact)
    _, inverse = np.unique(np.concatenate([true_windows, compact_windows]), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    true_cls, compact_cls = inverse[:n_true], inverse[n_true:]
    first = np.full(int(inverse.max()) + 1 if len(inverse) else 0, -1, np.int64)
    first[compact_cls[::-1]] = np.arange(n_compact)[::-1]  # the first compact output of each class
    # the compact output at the same place (the windows after a cut shift by a multiple of the stride),
    # so that unchanged stretches map in order and the next layer can take the compact tensor as it is
    at = np.minimum(np.searchsorted(kept, op.stride * np.arange(n_true)) // op.stride, max(n_compact - 1, 0))
    same = (n_compact > 0) & (compact_cls[at] == true_cls) if n_compact else np.zeros(n_true, bool)
    rows = np.where(same, at, first[true_cls])
    if (rows < 0).any():
        return None
    return true_cls, rows, n_compact


def axis_step(classes: np.ndarray, rows: np.ndarray, op: Op, cut: bool = True, slack: int = 0,
              align: int | None = None) -> AxisStep:
    """Plan ``op`` along one axis whose true positions have ``classes`` and live at compact ``rows``.

    With ``cut`` the long runs are cut (leaving ``slack`` more positions, the cut a multiple of
    ``align``); without, the compact input is taken as it is when that covers every output window."""
    p = op.padding
    cls = np.concatenate([np.full(p, ZERO), classes, np.full(p, ZERO)]).astype(np.int64)
    src = np.concatenate([np.full(p, ZERO), rows, np.full(p, ZERO)]).astype(np.int64)
    found = None if cut else _match(cls, kept := _home_positions(src), op)
    if found is None:
        found = _match(cls, kept := _cut_positions(cls, op, slack, align or op.stride), op)
    if found is None:  # cannot happen by the argument in _cut_positions; refuse rather than compute wrongly
        raise AssertionError(f"padding-skip plan lost a window of {op.name}")
    true_cls, out_rows, n_compact = found
    gather = src[kept]
    zeros = gather == ZERO
    implicit = (p > 0 and bool(zeros[:p].all() and zeros[len(gather) - p:].all())
                and not zeros[p:len(gather) - p].any()) or (p == 0 and not zeros.any())
    return AxisStep(gather, implicit, true_cls, out_rows, n_compact)


def backbone_ops(bb: VGG16Backbone) -> tuple[Op, ...]:
    """The windowed layers of ``bb`` in order (ReLU and eval-mode dropout are per position)."""
    ops: list[Op] = []
    for i, names in enumerate(bb.block_layers, start=1):
        for name in names:
            layer = getattr(bb, name)
            ops.append(Op(name, layer.kernel_size[0], layer.stride[0], layer.padding[0]))
        ops.append(Op(f"pool{i}", 2, 2, 0, ceil=True))
    ops += [Op("fc6", bb.fc6.kernel_size[0], 1, bb.fc6.padding[0]), Op("fc7", 1, 1, 0)]
    return tuple(ops)


@functools.lru_cache(maxsize=64)
def axis_plan(length: int, ops: tuple[Op, ...]) -> tuple[AxisStep, ...]:
    """Every layer's :class:`AxisStep` along an axis of ``length`` image pixels."""
    classes = rows = np.arange(length)
    steps = []
    for i, op in enumerate(ops):
        # cut at the first layer of each resolution, leaving what the rest of it needs: two positions
        # for each later 3×3 layer, three for the pool that ends the level (with two, pool3 had to gather
        # again for a quarter of the image sizes; with three none does from 1 to 1199 pixels, and four
        # computed 4 rows and columns more on conv2 and conv3). The layers after it take the compact
        # tensor as it is (a gather is a full copy, dearer than a few rows)
        starts_level = i == 0 or ops[i - 1].stride > 1
        later = list(itertools.takewhile(lambda o: o.stride == 1, ops[i + 1:]))
        step = axis_step(classes, rows, op, cut=starts_level, slack=2 * len(later) + 3,
                         align=2 if len(later) < len(ops) - i - 1 else 1)
        steps.append(step)
        classes, rows = step.classes, step.rows
    return tuple(steps)


def work_fraction(size: tuple[int, int], ops: tuple[Op, ...]) -> float:
    """The share of the plain layers' output positions (weighted by nothing) the compact form computes."""
    plain = compact = 0
    for r, c in zip(axis_plan(size[0], ops), axis_plan(size[1], ops)):
        plain += len(r.rows) * len(c.rows)
        compact += r.compact_length * c.compact_length
    return compact / plain


Conv = Callable[[str, torch.Tensor], torch.Tensor]
# (start in the result, start in the source or ZERO, length, step): step 1 copies consecutive source
# rows, step 0 repeats one (an expanded run of identical rows: one broadcast copy, not one per row)
Runs = tuple[tuple[int, int, int, int], ...]


@functools.lru_cache(maxsize=4096)
def _runs_cached(key: bytes) -> Runs:
    idx = np.frombuffer(key, np.int64)
    runs: list[list[int]] = []
    for i, v in enumerate(idx.tolist()):
        if runs:
            run = runs[-1]
            _, src, n, step = run
            if v == src and (step == 0 or n == 1):  # ZERO runs are repeats too
                run[2], run[3] = n + 1, 0
                continue
            if src != ZERO and v == src + n and (step == 1 or n == 1):
                run[2], run[3] = n + 1, 1
                continue
        runs.append([i, v, 1, 1])
    return tuple(tuple(r) for r in runs)  # type: ignore[misc]


def _runs(idx: np.ndarray) -> Runs:
    """``idx`` as runs of consecutive or repeated source indices (a gather as a few block copies)."""
    return _runs_cached(np.ascontiguousarray(idx, np.int64).tobytes())


@functools.lru_cache(maxsize=4096)
def _device_index(key: bytes, device: str) -> torch.Tensor:
    return torch.from_numpy(np.frombuffer(key, np.int64).copy()).to(device)


def select(x: torch.Tensor, rows: np.ndarray, cols: np.ndarray) -> torch.Tensor:
    """``x`` at the given rows and columns (ZERO: a zero row or column): block copies on the CPU, two
    indexing kernels elsewhere (a GPU would spend longer launching many small copies than copying)."""
    if x.device.type == "cpu":
        return copy_blocks(x, _runs(rows), _runs(cols))
    return select_by_index(x, rows, cols)


def select_by_index(x: torch.Tensor, rows: np.ndarray, cols: np.ndarray) -> torch.Tensor:
    """:func:`select` as two ``index_select`` kernels (index tensors cached per device)."""
    if (rows == ZERO).any() or (cols == ZERO).any():
        x = F.pad(x, (0, 1, 0, 1))  # the zero row and column ZERO points at
        rows, cols = np.where(rows == ZERO, x.shape[2] - 1, rows), np.where(cols == ZERO, x.shape[3] - 1, cols)
    fmt = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    dev = str(x.device)
    out = x.index_select(2, _device_index(np.ascontiguousarray(rows, np.int64).tobytes(), dev))
    out = out.index_select(3, _device_index(np.ascontiguousarray(cols, np.int64).tobytes(), dev))
    return out.contiguous(memory_format=fmt)


def copy_blocks(x: torch.Tensor, rows: Runs, cols: Runs) -> torch.Tensor:
    """``x[:, :, rows][:, :, :, cols]`` (ZERO selecting a zero row or column) by block copies, keeping
    ``x``'s memory format: far faster than advanced indexing on the CPU."""
    n_r, n_c = rows[-1][0] + rows[-1][2], cols[-1][0] + cols[-1][2]
    fmt = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    any_zero = any(src == ZERO for _, src, _, _ in rows + cols)
    out = torch.empty((x.shape[0], x.shape[1], n_r, n_c), dtype=x.dtype, device=x.device, memory_format=fmt)
    if any_zero:
        out.zero_()
    for dr, sr, lr, step_r in rows:
        if sr == ZERO:
            continue
        source_rows = x[:, :, sr:sr + (lr if step_r else 1)]
        for dc, sc, lc, step_c in cols:
            if sc != ZERO:  # a repeated row or column broadcasts
                out[:, :, dr:dr + lr, dc:dc + lc] = source_rows[:, :, :, sc:sc + (lc if step_c else 1)]
    return out


class PaddingSkip:
    """A backbone's forward pass computing only the compact positions (see the module docstring)."""

    def __init__(self, bb: VGG16Backbone) -> None:
        self.bb = bb
        self.ops = backbone_ops(bb)

    def _gather(self, x: torch.Tensor, r: AxisStep, c: AxisStep) -> tuple[torch.Tensor, bool]:
        """The compact input of a layer; True when the layer's own padding is still to be applied."""
        implicit = r.implicit_padding and c.implicit_padding
        if implicit and r.is_identity(x.shape[2]) and c.is_identity(x.shape[3]):
            return x, True
        if implicit:
            return select(x, r.gather_without_padding, c.gather_without_padding), True
        return select(x, r.gather, c.gather), False

    def features(self, x: torch.Tensor, conv: Conv | None = None, conv_applies_relu: bool = False,
                 unpadded: Conv | None = None) -> BackboneFeatures:
        """pool3, pool4 and conv7 of a normalised N×3×H×W batch, as the plain backbone computes them
        (``conv`` and ``conv_applies_relu`` as in :meth:`VGG16Backbone.forward`; ``unpadded(name, t)``,
        with its ReLU, computes a layer whose input already holds its zero padding)."""
        plain = conv or (lambda name, t: getattr(self.bb, name)(t))
        run = plain if conv_applies_relu else (lambda name, t: F.relu(plain(name, t), inplace=True))
        h, w = int(x.shape[-2]), int(x.shape[-1])
        rows, cols = axis_plan(h, self.ops), axis_plan(w, self.ops)
        kept: dict[str, torch.Tensor] = {}
        for op, r, c in zip(self.ops, rows, cols):
            x, implicit = self._gather(x, r, c)
            if op.name.startswith("pool"):
                x = max_pool_2x2(x)
            elif implicit:
                x = run(op.name, x)
            elif unpadded is not None:
                x = unpadded(op.name, x)
            else:
                layer = getattr(self.bb, op.name)
                x = F.relu(F.conv2d(x, layer.weight, layer.bias), inplace=True)
            if op.name in ("pool3", "pool4", "fc7"):
                kept[op.name] = x if r.is_full and c.is_full else select(x, r.rows, c.rows)
        return BackboneFeatures(pool3=kept["pool3"], pool4=kept["pool4"], conv7=kept["fc7"], input_size=(h, w))
