"""Faster forms of the FCN's layers, with the same arithmetic (only the summation order differs).

* The transposed convolutions all have kernel 2·stride. Each output pixel then sees exactly 2×2 input
  cells, so ``conv_transpose2d(x, W, stride=s)`` equals a 2×2 convolution with C_out·s² outputs followed
  by ``pixel_shuffle(s)``. Convolutions take the vendor libraries' fast paths; CPU transposed
  convolutions do not (col2im).
* On the CPU, oneDNN convolutions run with weights prepacked once (:class:`PackedConv`; 1×1 ones as
  oneDNN's linear): eager ``conv2d`` reorders them on every call, which on fc6 (a 7×7 convolution with
  few output positions) cost more than the products.
* On the CPU, the wide 3×3 convolutions (≥ 128 channels) run faster as NNPACK's Winograd
  convolutions (relative error ~1e-5 against the direct form; :mod:`fcn_core.inference.nnpack`).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

# Below this many input positions NNPACK's Winograd form does not pay. Through torch's call, which
# transforms the weights on every call, it lost to oneDNN's direct form below (a 512→512 layer: at 44×44
# they tied, at 88×88 Winograd was 1.6× faster, at the 10×10 of a 64×64 image it took most of the net's
# time). With the kernels transformed once (nnpack.py) it wins alone on 256-channel layers from 24×24, but
# inside the whole pass a lower limit changed nothing measurable (96×96 to 224×224 images, 16×16 against 48×48)
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


def diagonal_phase_kernel(weight: torch.Tensor, stride: int) -> torch.Tensor | None:
    """The phase kernel of a transposed convolution that maps each class only to itself (C_in = C_out,
    every other weight exactly zero: the bilinear upsamplings of the public FCNs) as a grouped
    convolution's, (C·s², 1, 2, 2), or None for any other weight. The products it leaves out are the
    zero weights' (upscore8 with 21 classes on the 71×71 cells of a 500×500 image: 3.1 ms instead of 14.6)."""
    c_in, c_out = weight.shape[:2]
    if c_in != c_out:
        return None
    idx = torch.arange(c_in, device=weight.device)
    off_diagonal = weight.clone()
    off_diagonal[idx, idx] = 0
    if bool(off_diagonal.any()):
        return None
    dense = phase_kernel(weight, stride).view(c_out, stride * stride, c_in, 2, 2)
    return dense[idx, :, idx].reshape(c_out * stride * stride, 1, 2, 2).contiguous()


def _phase_conv(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """The 2×2 convolution of the phase form on ``x`` (already padded): dense, or grouped per class for a
    :func:`diagonal_phase_kernel`."""
    return F.conv2d(x, kernel, groups=x.shape[1] // kernel.shape[1])


def upsample(x: torch.Tensor, kernel: torch.Tensor, stride: int) -> torch.Tensor:
    """``conv_transpose2d(x, W, stride)`` for k = 2·stride, given ``kernel = phase_kernel(W, stride)``
    (or its :func:`diagonal_phase_kernel`)."""
    y = _phase_conv(F.pad(x, (1, 1, 1, 1)), kernel)
    return F.pixel_shuffle(y, stride)


def upsample_crop(x: torch.Tensor, kernel: torch.Tensor, stride: int, offset: int, height: int, width: int) -> torch.Tensor:
    """``crop_like(upsample(x, kernel, stride), offset, height, width)``, contiguous: only the cells the
    window keeps are computed, and their phases are shuffled straight into place (at most nine strided
    copies), not into the whole upsampled map first (the demo model's FCN-8s at 500×500: 1.0 ms against
    3.3 for the shuffle and the crop's copy)."""
    s = stride
    n, _, h_in, w_in = x.shape
    if offset + height > (h_in + 1) * s or offset + width > (w_in + 1) * s:  # a window past the map: as cropped
        return upsample(x, kernel, stride)[:, :, offset:offset + height, offset:offset + width]
    i0, i1 = offset // s, (offset + height - 1) // s
    j0, j1 = offset // s, (offset + width - 1) // s
    # cells i0…i1 × j0…j1; the window made contiguous (a strided input sent conv2d to its slow path: the
    # demo model's FCN-32s upscore took 2.6 ms there, 1.1 contiguous)
    window = F.pad(x, (1, 1, 1, 1))[:, :, i0:i1 + 2, j0:j1 + 2].contiguous(memory_format=torch.channels_last)
    cells = _phase_conv(window, kernel)
    phases = cells.unflatten(1, (kernel.shape[0] // (s * s), s, s))  # N × C × p × q × i × j
    out = x.new_empty((n, phases.shape[1], height, width))
    for r0, i, ni, p0, np_ in _axis_segments(offset - i0 * s, height, s):
        for c0, j, nj, q0, nq in _axis_segments(offset - j0 * s, width, s):
            src = phases[:, :, p0:p0 + np_, q0:q0 + nq, i:i + ni, j:j + nj].permute(0, 1, 4, 2, 5, 3)
            out[:, :, r0:r0 + ni * np_, c0:c0 + nj * nq].unflatten(2, (ni, np_)).unflatten(4, (nj, nq)).copy_(src)
    return out


def _axis_segments(offset: int, length: int, s: int) -> list[tuple[int, int, int, int, int]]:
    """Output positions offset … offset+length-1 (position = s·cell + phase) as at most three runs
    (first output, first cell, cells, first phase, phases): a partial cell, whole cells, a partial cell."""
    segments, r = [], 0
    while r < length:
        cell, phase = divmod(offset + r, s)
        if phase == 0 and length - r >= s:
            cells = (length - r) // s
            segments.append((r, cell, cells, 0, s))
            r += cells * s
        else:
            take = min(s - phase, length - r)
            segments.append((r, cell, 1, phase, take))
            r += take
    return segments


class PackedConv:
    """A CPU convolution + ReLU with its weight reordered for oneDNN once (one fused kernel per call).

    Eager ``conv2d`` reorders the weight on every call: for a 512→512 layer on the 11×11 grid of a small
    image that took 7.7 ms against 1.1 ms prepacked (the same products, the same sums).

    ``padding`` replaces the layer's own where the input already carries it (conv1_1's 100 pixels, in
    the padding skip's compact input): prepacked, conv1_1 took 19 ms there instead of 35."""

    def __init__(self, conv: torch.nn.Conv2d, padding: tuple[int, int] | None = None) -> None:
        self.conv = conv
        self.padding = list(padding if padding is not None else conv.padding)
        # a 1×1 convolution runs as oneDNN's linear on the positions: prepacked for the convolution, oneDNN
        # laid its weight out again on every call on grids up to 6×6 (fc7, 4096→4096 channels, on a small
        # image: 400 ms against 8; 512→512: 6 ms against 0.3); from 9×9 on the two tie
        self.pointwise = (conv.kernel_size == (1, 1) and conv.stride == (1, 1) and conv.dilation == (1, 1)
                          and conv.groups == 1 and self.padding == [0, 0])
        if self.pointwise:
            self.weight = conv.weight.detach().reshape(conv.out_channels, conv.in_channels).to_mkldnn()
        else:
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
                and hasattr(torch.ops.mkldnn, "_reorder_convolution_weight")
                and hasattr(torch.ops.mkldnn, "_linear_pointwise"))

    def relu(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(conv(x))`` (channels_last out)."""
        c = self.conv
        if self.pointwise:
            n, _, h, w = x.shape
            positions = x.permute(0, 2, 3, 1).reshape(n * h * w, c.in_channels)  # a view of a channels_last x
            out = torch.ops.mkldnn._linear_pointwise(positions, self.weight, self.bias, "relu", [], "")
            return out.view(n, h, w, c.out_channels).permute(0, 3, 1, 2)
        return torch.ops.mkldnn._convolution_pointwise(x, self.weight, self.bias, self.padding, list(c.stride),
                                                       list(c.dilation), c.groups, "relu", [], "")


def winograd_suits(conv: torch.nn.Conv2d, narrow: bool = False) -> bool:
    """Whether NNPACK's Winograd form can pay off for ``conv`` on the CPU (wide 3×3, stride 1, padding 1,
    fp32): from 64→128 channels up; with ``narrow`` from 64→64, where it depends on the CPU (on some it
    costs what it saves: the engine races the two forms of conv1, :mod:`fcn_core.inference.form_race`)."""
    # is_available() also initialises NNPACK: without it every call fails
    return (conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.padding == (1, 1)
            and conv.dilation == (1, 1) and conv.groups == 1 and conv.weight.device.type == "cpu"
            and conv.weight.dtype == torch.float32 and conv.in_channels >= 64 and conv.out_channels >= (64 if narrow else 128)
            and torch.backends.nnpack.is_available())


# channels_last tensors with at most this many channels pool as pairwise maxima (see max_pool_2x2)
PAIRWISE_POOL_MAX_CHANNELS = 32


def _halve(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Max of each pair along ``dim``; an odd last element is its own pair (ceil mode)."""
    n = x.shape[dim]
    pairs = n // 2
    shape = list(x.shape)
    shape[dim] = n - pairs
    last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    out = torch.empty(shape, dtype=x.dtype, device=x.device,
                      memory_format=torch.channels_last if last else torch.contiguous_format)
    even = x.narrow(dim, 0, 2 * pairs)
    torch.maximum(even.unflatten(dim, (pairs, 2)).select(dim + 1, 0),
                  even.unflatten(dim, (pairs, 2)).select(dim + 1, 1), out=out.narrow(dim, 0, pairs))
    if n % 2:
        out.narrow(dim, pairs, 1).copy_(x.narrow(dim, n - 1, 1))
    return out


def max_pool_2x2(x: torch.Tensor) -> torch.Tensor:
    """``max_pool2d(x, 2, stride=2, ceil_mode=True)``, the same values (a max picks, it does not round).

    On contiguous NCHW CPU tensors torch's pooling kernel is slow (128×277×277: 19 ms); two passes of
    pairwise maxima take 1.8. On channels_last ones it is slow for few channels (8×518×518: 0.87 ms
    against 0.21) and faster from 64 (64×518×518: 2.9 against 3.4), so the pairwise form takes channels_last
    tensors up to ``PAIRWISE_POOL_MAX_CHANNELS``. Other devices keep torch's kernel."""
    if x.device.type != "cpu" or x.dim() != 4:
        return F.max_pool2d(x, 2, stride=2, ceil_mode=True)
    nchw = x.is_contiguous() and not x.is_contiguous(memory_format=torch.channels_last)
    narrow_last = x.is_contiguous(memory_format=torch.channels_last) and x.shape[1] <= PAIRWISE_POOL_MAX_CHANNELS
    if not (nchw or narrow_last):
        return F.max_pool2d(x, 2, stride=2, ceil_mode=True)
    return _halve(_halve(x, 2), 3)
