"""Winograd convolutions on the CPU whose products run as oneDNN matrix products (fp32).

A Winograd F(m, r) convolution computes an m×m output tile from an (m+r-1)×(m+r-1) input tile with
(m+r-1)² products per channel pair instead of m²·r². The tile transforms are small fixed matrices; what
remains is one matrix product per transform position, tiles × C_in by C_in × C_out, which oneDNN runs near
the machine's peak (about 200 G multiply-adds/s on the CPU of 2026-12-04, where the BLAS behind
``torch.mm`` managed half of that; 75–110 on the AMD EPYC of 2026-12-05, where MKL's batched product tied
it inside fc6).

* fc6 (7×7, 512 → 4096 channels on a 16×16 grid at 500×500) as F(2, 7): 64 products per 2×2 tile
  instead of 196 — a third of the multiply-adds; at 500×500 it took 80 ms instead of 135.
* The 512-channel 3×3 convolutions on grids up to 48×48 (conv5) as F(4, 3): 36 products per 4×4 tile
  instead of 144. The transforms are separate passes over memory, so the tiles go in bands that stay
  in the cache. On larger grids and narrower layers NNPACK's fused Winograd or oneDNN's direct
  convolution stays faster (``MIN_POSITIONS``, ``MIN_3X3_CHANNELS``).

The matrices come from the Toom–Cook construction on small points (``TILE_AND_POINTS``) and ∞, derived
in float64. Error against float64: ~1e-5 of the largest output, as NNPACK's (tests/inference/test_winograd.py).
The transformed weights take (m+r-1)²/r² of the layer's weights: 4/3 for fc6, 4× for a 3×3 layer.
"""

from __future__ import annotations

import threading

import numpy as np
import torch
from numpy.polynomial import polynomial

from ..memory import HEADROOM, free_bytes

# F(m, r) for each kernel size handled: the output tile and the interpolation points (∞ added). Point 1
# comes second (the bias rides on it). Of the point sets tried, these gave the smallest error against
# float64 on 512-channel layers: F(4, 3) 5.5e-6 of the largest output (the usual 0, ±1, ±2: 1.6e-5),
# F(2, 7) 1.0e-5 (with ±¾ or ±1½ instead of ±2 or ±½: 1.4e-5 to 2e-4)
TILE_AND_POINTS: dict[int, tuple[int, tuple[float, ...]]] = {
    3: (4, (0.0, 1.0, -1.0, 2.0, -0.5)),
    7: (2, (0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5)),
}
# Where F(m, r) beat the direct forms (oneDNN prepacked, NNPACK) inside the whole forward pass, where the
# weights come from memory rather than the cache (alone, repeated, a layer looks far better), on this
# project's AMD CPU, 2 threads, run in turn: fc6 from 6×6 outputs (16×16: 34 ms against 52; 3×3: 25
# against 15); 512→512 3×3 at 44×44 (conv5 at 500×500: 13.6 ms against 18.5). At 88×88 (conv4) NNPACK
# won, 53 against 60, and on 256-channel layers by more (conv3_2 at 159×159: 46 against 76): their
# transformed weights are 4× the layer's, read again for each band of tiles. Since NNPACK's kernels are
# transformed once (nnpack.py) it wins from about 50×50: 512→512 at 60×60 27.5 ms against 31.4, at 44×44
# 21.4 against 19.7; a 256×256 image (conv4 at 57×57) took 288 ms against 306 with the limit at 64×64.
MIN_POSITIONS = {3: 22 * 22, 7: 7 * 7}
MAX_POSITIONS = {3: 48 * 48, 7: None}
MIN_3X3_CHANNELS = 512  # in and out
# fc6's input channels from which F(2, 7) pays. On fc6 at 500×500 (22×22 in, 8 outputs per input
# channel), against oneDNN's prepacked direct form: 64 channels (the demo model) 7.0 ms against 4.1,
# 128: 15.8 against 15.5, 256: 48 against 65, 512: 153 against 250 (AMD EPYC, 2 threads, 2026-12-05)
MIN_7X7_CHANNELS = 256
BAND_BYTES = 12 * 2**20  # transformed tiles per band (see WinogradConv.relu)
WEIGHT_BLOCK = 256  # output channels transformed at a time (float64 transients of ~50 MB for fc6)


def winograd_matrices(m: int, r: int, points: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(A^T, G, B^T)`` of F(m, r) for correlation: ``y = A^T [(G g) ⊙ (B^T d)]`` for an input ``d`` of
    m+r-1 values and a kernel ``g`` of r; ``points`` are the m+r-2 finite points (∞ is the last)."""
    n = m + r - 1
    if len(points) != n - 1:
        raise ValueError(f"F({m}, {r}) needs {n - 1} finite points, got {len(points)}")
    p = np.asarray(points, dtype=np.float64)
    at, g, bt = np.zeros((m, n)), np.zeros((n, r)), np.zeros((n, n))
    for j in range(n - 1):
        others = np.delete(p, j)
        at[:, j] = p[j] ** np.arange(m)
        g[j] = p[j] ** np.arange(r) / np.prod(p[j] - others)
        bt[j, :n - 1] = polynomial.polyfromroots(others)  # coefficients of ∏(x - p_l), l ≠ j
    at[m - 1, n - 1] = 1.0
    g[n - 1, r - 1] = 1.0
    bt[n - 1] = polynomial.polyfromroots(p)
    return at, g, bt


def linear_available() -> bool:
    """Whether this torch has oneDNN's linear with a prepacked weight and a dense input."""
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def _both_axes(transform: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``kron(T, T) @ x`` for ``x`` viewed as (n, n, …) → (k·k, …), one tile axis at a time (T is k × n)."""
    k, n = transform.shape
    first = torch.mm(transform, x).view(k, n, -1)
    return torch.matmul(transform, first).view(k * k, -1)


class WinogradConv:
    """``relu(conv(x))`` for a square, unit-stride, fp32 CPU convolution with a kernel in
    ``TILE_AND_POINTS``, through F(m, r) (NCHW-shaped result, channels_last in memory)."""

    def __init__(self, conv: torch.nn.Conv2d) -> None:
        r = conv.kernel_size[0]
        self.conv = conv
        self.m, self.points = TILE_AND_POINTS[r]
        self.r, self.padding, self.out_channels = r, conv.padding[0], conv.out_channels
        self.n = n = self.m + r - 1
        at, _, bt = (torch.from_numpy(a) for a in winograd_matrices(self.m, r, self.points))
        # applied one axis at a time: the 2-D transform (their Kronecker product) as one matrix product
        # made four times the multiply-adds, and the output one (M = m², K = n²) ran at memory speed:
        # fc6's took 18 ms at 500×500, the two passes 6
        self.input_transform, self.output_transform = bt.to(torch.float32), at.to(torch.float32)
        # the point 1 on both axes: its output coefficients are all 1, so the bias added there (inside
        # oneDNN's product) reaches every output once
        self.bias_position = n + 1
        self.bias = conv.bias.detach().to(torch.float32) if conv.bias is not None else None
        self._weights: list[torch.Tensor] | None = None  # built on first use: most sizes never need them
        self._refused = False
        self._lock = threading.Lock()

    @staticmethod
    def suits(conv: torch.nn.Conv2d) -> bool:
        """Kernels handled here (7×7 from ``MIN_7X7_CHANNELS`` in, 3×3 of at least ``MIN_3X3_CHANNELS`` in
        and out), unit stride and dilation, no groups, equal padding, fp32 on the CPU, oneDNN's linear."""
        k = conv.kernel_size
        wide = (conv.in_channels >= MIN_7X7_CHANNELS if k[0] == 7
                else min(conv.in_channels, conv.out_channels) >= MIN_3X3_CHANNELS)
        return (k[0] == k[1] and k[0] in TILE_AND_POINTS and wide and conv.stride == (1, 1)
                and conv.dilation == (1, 1) and conv.groups == 1 and conv.padding[0] == conv.padding[1]
                and conv.weight.device.type == "cpu" and conv.weight.dtype == torch.float32 and linear_available())

    @property
    def weight_bytes(self) -> int:
        """What the transformed weights take: (m+r-1)² matrices of C_out × C_in floats."""
        return self.n * self.n * self.out_channels * self.conv.in_channels * 4

    def ready_for(self, height: int, width: int) -> bool:
        """Whether to use F(m, r) on an input of this size: it pays there (``MIN_POSITIONS``) and its
        weights are built (now, on first use, unless the memory they take is not free: then never)."""
        oh, ow = height + 2 * self.padding - self.r + 1, width + 2 * self.padding - self.r + 1
        high = MAX_POSITIONS[self.r]
        if oh * ow < MIN_POSITIONS[self.r] or (high is not None and oh * ow > high) or self._refused:
            return False
        with self._lock:
            if self._weights is None and not self._refused:
                free = free_bytes()
                # the weights (one matrix more while handed over), and as much again left for the images
                if free is not None and 2 * self.weight_bytes > HEADROOM * free:
                    self._refused = True
                else:
                    self._weights = self._transformed_weights()
        return self._weights is not None

    def _transformed_weights(self) -> list[torch.Tensor]:
        """G w Gᵀ per output-channel block (in float64, for the rounding), one C_out × C_in matrix per
        transform position; each is handed to oneDNN as soon as it is complete, so the peak is the
        weights once plus one matrix."""
        n, c_out = self.n, self.out_channels
        _, g, _ = (torch.from_numpy(a) for a in winograd_matrices(self.m, self.r, self.points))
        dense = [torch.empty(c_out, self.conv.in_channels) for _ in range(n * n)]
        with torch.no_grad():
            for start in range(0, c_out, WEIGHT_BLOCK):
                w = self.conv.weight.detach()[start:start + WEIGHT_BLOCK].to(torch.float64)
                u = torch.einsum("ak,oikl,bl->aboi", g, w, g).to(torch.float32)
                for p in range(n * n):
                    dense[p][start:start + WEIGHT_BLOCK] = u[p // n, p % n]
            packed = []
            for p in range(n * n):
                packed.append(dense[p].to_mkldnn())
                dense[p] = torch.empty(0)
        return packed

    def relu(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(conv(x))`` of an N×C×H×W batch (call :meth:`ready_for` first)."""
        weights = self._weights
        if weights is None:
            raise RuntimeError("WinogradConv.relu before ready_for built its weights")
        batch, channels, height, width = x.shape
        m, n, r, pad = self.m, self.n, self.r, self.padding
        oh, ow = height + 2 * pad - r + 1, width + 2 * pad - r + 1
        th, tw = -(-oh // m), -(-ow // m)
        hp, wp = th * m + r - 1, tw * m + r - 1
        # zero-padded channels_last input, as large as whole tiles need
        padded = x.new_zeros(batch, hp, wp, channels)
        padded[:, pad:pad + height, pad:pad + width] = x.permute(0, 2, 3, 1)
        out = x.new_empty(batch, th * m, tw * m, self.out_channels)
        # bands of tile rows whose transformed tiles stay in the cache: the transforms are passes over
        # memory, and from about 30 MB on (512 channels at 88×88 in one band) they ran at DRAM speed:
        # 60 ms against 24 at 72×72. But every band reads all the weights again, so a band holds at least
        # as many bytes of tiles as the weights take (fc6: 540 MB, one band up to about 1000×1000 images)
        row_bytes = n * n * tw * max(channels, self.out_channels) * 4
        band = max(1, max(BAND_BYTES, self.weight_bytes) // row_bytes)
        for b in range(batch):
            for t0 in range(0, th, band):
                rows = min(band, th - t0)
                self._band(padded[b, t0 * m:], out[b, t0 * m:(t0 + rows) * m], rows, tw, weights)
        if th * m != oh or tw * m != ow:
            out = out[:, :oh, :ow].contiguous()
        return out.permute(0, 3, 1, 2)

    def _band(self, padded: torch.Tensor, out: torch.Tensor, rows: int, tw: int, weights: list[torch.Tensor]) -> None:
        """``rows`` tile rows of one image: ``padded`` (H×W×C from the band's first input row) into
        ``out`` (rows·m × tw·m × C_out)."""
        m, n = self.m, self.n
        wp, channels = padded.shape[1], padded.shape[2]
        tiles = rows * tw
        taps = padded.as_strided((n, n, rows, tw, channels),
                                 (wp * channels, channels, m * wp * channels, m * channels, 1))
        transformed = _both_axes(self.input_transform, taps.reshape(n, n * tiles * channels)).view(n * n, tiles, channels)
        products = torch.stack([
            torch.ops.mkldnn._linear_pointwise(transformed[p], weights[p],
                                               self.bias if p == self.bias_position else None, "none", [], "")
            for p in range(n * n)])
        result = _both_axes(self.output_transform, products.view(n, n * tiles * self.out_channels))
        result.clamp_min_(0)
        out.view(rows, m, tw, m, self.out_channels).copy_(
            result.view(m, m, rows, tw, self.out_channels).permute(2, 0, 3, 1, 4))
