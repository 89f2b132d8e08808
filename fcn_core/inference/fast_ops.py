"""Faster forms of the FCN's two slow layers, with the same arithmetic (only the summation order differs).

* The transposed convolutions all have kernel 2·stride. Each output pixel then sees exactly 2×2 input
  cells, so ``conv_transpose2d(x, W, stride=s)`` equals a 2×2 convolution with C_out·s² outputs followed
  by ``pixel_shuffle(s)``. Convolutions take the vendor libraries' fast paths; CPU transposed
  convolutions do not (col2im).
* fc6 is a 7×7 convolution with very few output positions. On the CPU, oneDNN runs it at a fraction of
  its speed on the other layers; unfolding its input and multiplying by the weight matrix (prepacked
  for oneDNN once) is much faster (``fcn-workbench bench`` measures the whole).
* On the CPU, the wide 3×3 convolutions (≥ 128 channels) run faster as NNPACK's Winograd
  convolutions (relative error ~1e-5 against the direct form).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

# Above this many bytes of unfolded fc6 input, keep the plain convolution (memory beats speed).
UNFOLD_LIMIT_BYTES = 256 * 2**20
# Below this many input positions NNPACK's Winograd form loses to oneDNN's direct one: it transforms the
# weights on every call (a 512→512 layer: at 44×44 they tie, at 88×88 Winograd is 1.6× faster, at the 10×10
# of a 64×64 image it took most of the net's time)
WINOGRAD_MIN_POSITIONS = 48 * 48


def phase_kernel(weight: torch.Tensor, stride: int) -> torch.Tensor:
    """The 2×2 convolution kernel (C_out·s², C_in, 2, 2) equivalent to a k=2s transposed-conv ``weight``.

    ``weight`` has the transposed-conv layout (C_in, C_out, 2s, 2s). Output channel (o, p, q) of the
    result is pixel (p, q) of cell o after ``pixel_shuffle``.
    """
    c_in, c_out, k, k2 = weight.shape
    if k != 2 * stride or k2 != k:
        raise ValueError(f"phase form needs a square kernel of twice the stride, got {k}×{k2} at stride {stride}")
    # tap r of the 2×2 kernel reads input cell j-1+r, which lands on kernel row p + (1-r)·s
    w = weight.reshape(c_in, c_out, 2, stride, 2, stride)  # [c, o, a, p, b, q] with row a·s+p
    w = w.flip(2).flip(4)  # a → r = 1 - a
    return w.permute(1, 3, 5, 0, 2, 4).reshape(c_out * stride * stride, c_in, 2, 2).contiguous()


def upsample(x: torch.Tensor, kernel: torch.Tensor, stride: int) -> torch.Tensor:
    """``conv_transpose2d(x, W, stride)`` for k = 2·stride, given ``kernel = phase_kernel(W, stride)``."""
    y = F.conv2d(F.pad(x, (1, 1, 1, 1)), kernel)
    return F.pixel_shuffle(y, stride)


class PackedMatrix:
    """A convolution's weight as a (C_out, C_in·k·k) matrix, prepacked for oneDNN where that works."""

    def __init__(self, conv: torch.nn.Conv2d) -> None:
        self.matrix = conv.weight.detach().reshape(conv.out_channels, -1)
        self.bias = conv.bias.detach() if conv.bias is not None else torch.zeros(conv.out_channels)
        self.packed: tuple[torch.Tensor, torch.Tensor] | None = None
        if self.matrix.device.type == "cpu" and self.matrix.dtype == torch.float32 and torch.backends.mkldnn.is_available():
            try:
                packed = (self.matrix.to_mkldnn(), self.bias.to_mkldnn())
                probe = torch.zeros(1, self.matrix.shape[1])
                torch._C._nn.mkldnn_linear(probe.to_mkldnn(), *packed)
                self.packed = packed
            except (RuntimeError, AttributeError):  # no oneDNN linear in this build: plain matmul
                self.packed = None

    def rows_times_matrix(self, rows: torch.Tensor) -> torch.Tensor:
        """``rows @ matrix.T + bias`` for an M×K input."""
        if self.packed is not None:
            return torch._C._nn.mkldnn_linear(rows.contiguous().to_mkldnn(), *self.packed).to_dense()
        return torch.addmm(self.bias, rows, self.matrix.t())


class PackedConv:
    """A CPU convolution + ReLU with its weight reordered for oneDNN once (one fused kernel per call).

    Eager ``conv2d`` reorders the weight on every call: for a 512→512 layer on the 11×11 grid of a small
    image that took 7.7 ms against 1.1 ms prepacked (the same products, the same sums).

    ``padding`` replaces the layer's own where the input already carries it (conv1_1's 100 pixels, in
    the padding skip's compact input): prepacked, conv1_1 took 19 ms there instead of 35."""

    def __init__(self, conv: torch.nn.Conv2d, padding: tuple[int, int] | None = None) -> None:
        self.conv = conv
        self.padding = list(padding if padding is not None else conv.padding)
        self.weight = torch.ops.mkldnn._reorder_convolution_weight(
            conv.weight.detach(), self.padding, list(conv.stride), list(conv.dilation), conv.groups,
            [1, conv.in_channels, 64, 64])
        self.bias = conv.bias.detach() if conv.bias is not None else None

    @staticmethod
    def suits(conv: torch.nn.Conv2d) -> bool:
        """fp32 CPU convolutions, where this torch has oneDNN's prepacked convolution."""
        return (conv.weight.device.type == "cpu" and conv.weight.dtype == torch.float32
                and torch.backends.mkldnn.is_available()
                and hasattr(torch.ops.mkldnn, "_convolution_pointwise")
                and hasattr(torch.ops.mkldnn, "_reorder_convolution_weight"))

    def relu(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(conv(x))`` (channels_last out)."""
        c = self.conv
        return torch.ops.mkldnn._convolution_pointwise(x, self.weight, self.bias, self.padding, list(c.stride),
                                                       list(c.dilation), c.groups, "relu", [], "")


def fc6_forward(x: torch.Tensor, conv: torch.nn.Conv2d, weights: PackedMatrix | None = None) -> torch.Tensor:
    """fc6 (or any unpadded, unit-stride convolution) as unfold + matrix product where that is faster.

    Used on the CPU only. The result is channels_last (N×C×H×W with channels innermost).
    """
    kh, kw = conv.kernel_size
    n, c, h, w = x.shape
    oh, ow = h - kh + 1, w - kw + 1
    if x.device.type != "cpu" or oh < 1 or ow < 1 or n * c * kh * kw * oh * ow * x.element_size() > UNFOLD_LIMIT_BYTES:
        return conv(x)
    weights = weights or PackedMatrix(conv)
    cols = F.unfold(x, (kh, kw))  # N × C·k·k × L
    rows = cols.transpose(1, 2).reshape(n * oh * ow, -1)
    out = weights.rows_times_matrix(rows)  # N·L × C_out
    return out.view(n, oh, ow, conv.out_channels).permute(0, 3, 1, 2)


def winograd_suits(conv: torch.nn.Conv2d) -> bool:
    """Whether NNPACK's Winograd form pays off for ``conv`` on the CPU (wide 3×3, stride 1, padding 1, fp32):
    from 64→128 channels up; at 64→64 its transforms cost what they save."""
    # is_available() also initialises NNPACK: without it every call fails
    return (conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.padding == (1, 1)
            and conv.dilation == (1, 1) and conv.groups == 1 and conv.weight.device.type == "cpu"
            and conv.weight.dtype == torch.float32 and conv.in_channels >= 64 and conv.out_channels >= 128
            and torch.backends.nnpack.is_available())


def winograd_conv(x: torch.Tensor, conv: torch.nn.Conv2d) -> torch.Tensor:
    """``conv(x)`` through NNPACK (NCHW in and out); the direct form where NNPACK declines the input."""
    try:
        return torch._nnpack_spatial_convolution(x.contiguous(), conv.weight, conv.bias, [1, 1], [1, 1])
    except RuntimeError:
        return conv(x)


def _halve(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Max of each pair along ``dim``; an odd last element is its own pair (ceil mode)."""
    n = x.shape[dim]
    pairs = n // 2
    shape = list(x.shape)
    shape[dim] = n - pairs
    out = x.new_empty(shape)
    even = x.narrow(dim, 0, 2 * pairs)
    torch.maximum(even.unflatten(dim, (pairs, 2)).select(dim + 1, 0),
                  even.unflatten(dim, (pairs, 2)).select(dim + 1, 1), out=out.narrow(dim, 0, pairs))
    if n % 2:
        out.narrow(dim, pairs, 1).copy_(x.narrow(dim, n - 1, 1))
    return out


def max_pool_2x2(x: torch.Tensor) -> torch.Tensor:
    """``max_pool2d(x, 2, stride=2, ceil_mode=True)``, the same values (a max picks, it does not round).

    On contiguous NCHW CPU tensors torch's pooling kernel is slow (128×277×277: 19 ms); two passes of
    pairwise maxima take 1.8. channels_last tensors and other devices keep torch's kernel."""
    if x.device.type != "cpu" or x.dim() != 4 or not x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last):
        return F.max_pool2d(x, 2, stride=2, ceil_mode=True)
    return _halve(_halve(x, 2), 3)
