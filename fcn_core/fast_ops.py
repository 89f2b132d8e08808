"""Faster forms of the FCN's two slow layers, with the same arithmetic (only the summation order differs).

* The transposed convolutions all have kernel 2·stride. Each output pixel then sees exactly 2×2 input
  cells, so ``conv_transpose2d(x, W, stride=s)`` equals a 2×2 convolution with C_out·s² outputs followed
  by ``pixel_shuffle(s)``. Convolutions take the vendor libraries' fast paths; CPU transposed
  convolutions do not (col2im).
* fc6 is a 7×7 convolution with very few output positions. On the CPU, oneDNN runs it at a fraction of
  its speed on the other layers; unfolding its input and multiplying by the weight matrix is ~3× faster.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

# Above this many bytes of unfolded fc6 input, keep the plain convolution (memory beats speed).
UNFOLD_LIMIT_BYTES = 256 * 2**20


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


def fc6_forward(x: torch.Tensor, conv: torch.nn.Conv2d, weight_matrix: torch.Tensor | None = None) -> torch.Tensor:
    """fc6 (or any unpadded, unit-stride convolution) as unfold + matrix product where that is faster.

    Used on the CPU only; ``weight_matrix`` is ``conv.weight`` viewed as (C_out, C_in·k·k).
    """
    kh, kw = conv.kernel_size
    n, c, h, w = x.shape
    oh, ow = h - kh + 1, w - kw + 1
    if x.device.type != "cpu" or oh < 1 or ow < 1 or n * c * kh * kw * oh * ow * x.element_size() > UNFOLD_LIMIT_BYTES:
        return conv(x)
    wm = conv.weight.reshape(conv.out_channels, -1) if weight_matrix is None else weight_matrix
    cols = F.unfold(x, (kh, kw))  # N × C·k·k × L
    out = torch.matmul(wm, cols)
    if conv.bias is not None:
        out += conv.bias.view(1, -1, 1)
    return out.view(n, conv.out_channels, oh, ow)
