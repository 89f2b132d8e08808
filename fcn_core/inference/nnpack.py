"""NNPACK's Winograd convolution called directly: kernel transforms made once, ReLU fused.

torch reaches NNPACK through ``torch._nnpack_spatial_convolution``, which transforms the layer's kernel
again on every call and returns the convolution without its ReLU (one more pass over the output).
NNPACK's own inference function (its C API, the one torch calls) also takes a kernel transformed once
(its "precompute" and "reuse" strategies) and applies bias and ReLU in its output transform. The engine
calls it through ctypes, on the symbols this torch's CPU library exports, with the arguments torch's own
call passes, after checking once that it gives bit for bit what torch's call and a ReLU give. Where that
cannot be done (another platform, a torch without the symbols, a different answer) torch's call stays.

Measured in the whole pass (full-width FCN-8s, 500×500, 2 threads, AMD EPYC, in turn in one process):
753 ms with torch's calls, 734 with only the ReLU fused, 706 with the kernels transformed once (the
transforms of a 512→512 layer take 64 MB and a sixth of its time: NNPACK's own profile).
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
import threading
from pathlib import Path

import torch
from torch.nn import functional as F

from ..memory import HEADROOM, free_bytes

# NNPACK's enums (include/nnpack.h)
_WT8X8 = 3  # nnp_convolution_algorithm_wt8x8: Winograd F(6×6, 3×3), what torch's "auto" picks for 3×3
_COMPUTE, _PRECOMPUTE, _REUSE = 1, 2, 3  # nnp_convolution_transform_strategy
_IDENTITY, _RELU = 0, 1  # nnp_activation
_SUCCESS = 0
TILE_ROWS = 6  # output rows of one F(6×6, 3×3) tile
# NNPACK's scratch memory (the transformed input and output tiles: about 3.6 times the output) one call may
# take; a larger image runs in strips of output rows. conv1_2 on a 2048×2048 image asked for 3.8 GB in one
# call (the process's peak 8.8 GB); images up to about 750×750 take one call (500×500: 248 MB at most)
WORKSPACE_LIMIT = 512 * 2**20


class _Size(ctypes.Structure):
    _fields_ = [("width", ctypes.c_size_t), ("height", ctypes.c_size_t)]


class _Padding(ctypes.Structure):
    _fields_ = [("top", ctypes.c_size_t), ("right", ctypes.c_size_t), ("bottom", ctypes.c_size_t),
                ("left", ctypes.c_size_t)]


class _Nnpack:
    """The two C functions, and one thread pool per thread count."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.inference = lib.nnp_convolution_inference
        self.inference.restype = ctypes.c_int
        self.inference.argtypes = [
            ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_size_t,  # algorithm, strategy, channels
            _Size, _Padding, _Size, _Size,  # input size, padding, kernel size, output subsampling
            ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,  # input, kernel, bias, output
            ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t),  # workspace, its size
            ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]  # activation, its parameters, pool, profile
        self._create_pool = lib.pthreadpool_create
        self._create_pool.restype = ctypes.c_void_p
        self._create_pool.argtypes = [ctypes.c_size_t]
        self._pools: dict[tuple[int, int], int | None] = {}
        self._lock = threading.Lock()

    def pool(self) -> int | None:
        """A thread pool as wide as torch's intra-op threads (made once per width and process: a forked
        child has none of its parent's pool threads, so it makes its own)."""
        key = (os.getpid(), torch.get_num_threads())
        with self._lock:
            if key not in self._pools:
                self._pools[key] = self._create_pool(key[1]) if key[1] > 1 else None
            return self._pools[key]


def _library_path() -> Path | None:
    if not sys.platform.startswith("linux"):
        return None
    path = Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"
    return path if path.is_file() else None


_loading = threading.Lock()


def _nnpack() -> _Nnpack | None:
    """NNPACK's API from this torch's CPU library, checked against torch's own call; None where not
    (found once per process)."""
    with _loading:
        return _load()


@functools.cache
def _load() -> _Nnpack | None:
    path = _library_path()
    # is_available() also initialises NNPACK, which its functions need first
    if path is None or not torch.backends.nnpack.is_available():
        return None
    try:
        lib = ctypes.CDLL(str(path))
        api = _Nnpack(lib)
    except (OSError, AttributeError):  # not loadable, or these symbols are not exported
        return None
    return api if _agrees_with_torch(api) else None


def _agrees_with_torch(api: _Nnpack) -> bool:
    """Whether the direct call, with a transformed kernel, gives exactly torch's call + ReLU (on more input
    channels than NNPACK takes in one block, so the transformed kernel's blocks are checked too)."""
    gen = torch.Generator().manual_seed(0)  # the user's random stream is left alone
    conv = torch.nn.utils.skip_init(torch.nn.Conv2d, 160, 16, 3, padding=1)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen))
        conv.bias.copy_(torch.randn(16, generator=gen))
        x = torch.randn(1, 160, 13, 17, generator=gen)
        try:
            expected = F.relu(torch._nnpack_spatial_convolution(x, conv.weight, conv.bias, [1, 1], [1, 1]))
        except RuntimeError:
            return False
        layer = NnpackConv(conv, api=api)
        got = layer.direct_relu(x)
    return got is not None and layer.transformed and torch.equal(got, expected)


_workspaces = threading.local()  # per thread (NNPACK's scratch memory), grown as needed, as torch keeps its own


def _workspace(size: int) -> torch.Tensor:
    buf = getattr(_workspaces, "buffer", None)
    if buf is None or buf.numel() < size:
        _workspaces.buffer = buf = None  # the old one goes before the new one is allocated
        # torch's CPU allocator aligns to 64 bytes, as NNPACK asks
        buf = _workspaces.buffer = torch.empty(size, dtype=torch.uint8)
    return buf


class NnpackConv:
    """``relu(conv(x))`` for a 3×3, stride-1 fp32 CPU convolution through NNPACK's Winograd form (NCHW in
    and out): directly, with the kernel transformed on first use, where :func:`_nnpack` allows; else
    through torch's call. ``weight``: the layer's weight in NCHW, when kept (NNPACK reads NCHW)."""

    def __init__(self, conv: torch.nn.Conv2d, weight: torch.Tensor | None = None, api: _Nnpack | None = None) -> None:
        self.conv = conv
        self.weight = (conv.weight if weight is None else weight).detach().contiguous()
        self.bias = (conv.bias.detach() if conv.bias is not None
                     else torch.zeros(conv.out_channels, dtype=torch.float32)).contiguous()
        self._api = api
        self._transform: torch.Tensor | None = None
        self._transform_refused = False
        self._lock = threading.Lock()

    @property
    def transformed(self) -> bool:
        """Whether the kernel transform is built (and used)."""
        return self._transform is not None

    def relu(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(conv(x))`` (NCHW out)."""
        # torch.compile traces torch's call: a foreign function through ctypes is not something it can trace
        out = None if torch.compiler.is_compiling() else self.direct_relu(x)
        if out is not None:
            return out
        return F.relu(torch_nnpack_conv(x, self.conv, self.weight), inplace=True)

    def suits(self, x: torch.Tensor) -> bool:
        """Whether NNPACK's inference function computes this layer on ``x`` (fp32 on the CPU, 3×3, stride
        and dilation 1, one group, zero padding of at most 1, ``x`` of the layer's channels, no gradient)."""
        c = self.conv
        return (x.dtype == torch.float32 and x.device.type == "cpu" and x.dim() == 4 and x.shape[1] == c.in_channels
                and c.kernel_size == (3, 3) and c.stride == (1, 1) and c.dilation == (1, 1) and c.groups == 1
                and c.padding_mode == "zeros" and isinstance(c.padding, tuple) and max(c.padding) <= 1
                and self.weight.dtype == torch.float32 and self.bias.dtype == torch.float32
                and not (torch.is_grad_enabled() and (x.requires_grad or c.weight.requires_grad)))

    def direct_relu(self, x: torch.Tensor) -> torch.Tensor | None:
        """``relu(conv(x))`` through NNPACK's C function; None where it cannot run here or declines."""
        api = self._api or _nnpack()
        if api is None or not self.suits(x):
            return None
        x = x.contiguous()
        n, _, h, w = x.shape
        pad_h, pad_w = self.conv.padding
        out_h, out_w = h + 2 * pad_h - 2, w + 2 * pad_w - 2
        if out_h < 1 or out_w < 1:
            return None
        transform = self._kernel_transform(api)
        call = _Call(api, self, transform)
        rows = call.strip_rows(out_h, w)
        if rows is None:
            return None
        out = torch.empty((n, self.conv.out_channels, out_h, out_w), dtype=torch.float32)
        for i in range(n):
            for r0 in range(0, out_h, rows):
                if not call.strip(x[i], out[i], r0, min(r0 + rows, out_h)):
                    return None
        return out

    def _kernel_transform(self, api: _Nnpack) -> torch.Tensor | None:
        """The kernel in NNPACK's transformed form, made on first use (C_out·C_in·64 floats: 64 MB for a
        512→512 layer), unless the memory it takes is not free: then the kernel is transformed per call."""
        with self._lock:
            if self._transform is None and not self._transform_refused:
                # the transform depends on the kernel only; the sizes are the ones NNPACK validates
                common = (_WT8X8, _PRECOMPUTE, self.conv.in_channels, self.conv.out_channels, _Size(8, 8),
                          _Padding(1, 1, 1, 1), _Size(3, 3), _Size(1, 1), None, self.weight.data_ptr(),
                          self.bias.data_ptr(), None)
                need = ctypes.c_size_t(0)
                free = free_bytes()
                if (api.inference(*common, None, ctypes.byref(need), _IDENTITY, None, None, None) != _SUCCESS
                        or (free is not None and 2 * need.value > HEADROOM * free)):
                    self._transform_refused = True
                    return None
                transform = torch.empty(need.value, dtype=torch.uint8)
                if api.inference(*common, transform.data_ptr(), ctypes.byref(need), _IDENTITY, None, api.pool(), None) != _SUCCESS:
                    self._transform_refused = True
                    return None
                self._transform = transform
            return self._transform


class _Call:
    """One layer's calls of NNPACK's inference function, on strips of output rows of one image."""

    def __init__(self, api: _Nnpack, layer: NnpackConv, transform: torch.Tensor | None) -> None:
        self.api, self.layer, self.pool = api, layer, api.pool()
        self.strategy, self.kernel = ((_REUSE, transform.data_ptr()) if transform is not None
                                      else (_COMPUTE, layer.weight.data_ptr()))
        self.pad_h, self.pad_w = layer.conv.padding

    def _window(self, r0: int, r1: int, h: int) -> tuple[int, int, int, int]:
        """Input rows [i0, i1) and the zero rows above and below them for output rows [r0, r1)."""
        first, last = r0 - self.pad_h, r1 + 2 - self.pad_h  # the rows those outputs' windows read
        i0, i1 = max(first, 0), min(last, h)
        return i0, i1, i0 - first, last - i1

    def _args(self, r0: int, r1: int, h: int, w: int) -> tuple:
        i0, i1, top, bottom = self._window(r0, r1, h)
        return (_WT8X8, self.strategy, self.layer.conv.in_channels, self.layer.conv.out_channels,
                _Size(w, i1 - i0), _Padding(top, self.pad_w, bottom, self.pad_w), _Size(3, 3), _Size(1, 1))

    def _need(self, r0: int, r1: int, h: int, w: int) -> int | None:
        need = ctypes.c_size_t(0)
        # asked with no workspace, NNPACK only says how much it needs
        status = self.api.inference(*self._args(r0, r1, h, w), None, self.kernel, None, None, None,
                                    ctypes.byref(need), _RELU, None, self.pool, None)
        return need.value if status == _SUCCESS else None

    def strip_rows(self, out_h: int, w: int) -> int | None:
        """Output rows per call: all of them, or a multiple of the tile's 6 rows (strips that start on a
        tile row compute the same tiles as one call, bit for bit) whose scratch memory stays within
        ``WORKSPACE_LIMIT``; None where NNPACK declines the layer."""
        h = out_h + 2 - 2 * self.pad_h
        whole = self._need(0, out_h, h, w)
        if whole is None or whole <= WORKSPACE_LIMIT or out_h <= TILE_ROWS:
            return None if whole is None else out_h
        per_tile_row = whole / -(-out_h // TILE_ROWS)
        return TILE_ROWS * max(1, int(WORKSPACE_LIMIT // per_tile_row))

    def strip(self, image: torch.Tensor, out: torch.Tensor, r0: int, r1: int) -> bool:
        """Output rows [r0, r1) of one C×H×W ``image`` into ``out`` (C_out×H'×W'); False where NNPACK fails."""
        h, w = image.shape[-2:]
        whole = r0 == 0 and r1 == out.shape[1]
        i0, i1, _, _ = self._window(r0, r1, h)
        # a strip of an NCHW tensor is not contiguous: its input is copied out, its output copied in
        source = image if whole else image[:, i0:i1].contiguous()
        target = out if whole else torch.empty((out.shape[0], r1 - r0, out.shape[2]), dtype=torch.float32)
        need = self._need(r0, r1, h, w)
        if need is None:
            return False
        workspace = _workspace(need)
        status = self.api.inference(*self._args(r0, r1, h, w), source.data_ptr(), self.kernel,
                                    self.layer.bias.data_ptr(), target.data_ptr(), workspace.data_ptr(),
                                    ctypes.byref(ctypes.c_size_t(workspace.numel())), _RELU, None, self.pool, None)
        if status != _SUCCESS:
            return False
        if not whole:
            out[:, r0:r1].copy_(target)
        return True


def torch_nnpack_conv(x: torch.Tensor, conv: torch.nn.Conv2d, weight: torch.Tensor | None = None) -> torch.Tensor:
    """``conv(x)`` through torch's NNPACK call (NCHW in and out); the direct form where NNPACK declines the
    input. ``weight``: the layer's weight in NCHW, when kept (NNPACK copies a channels_last one on every call)."""
    try:
        return torch._nnpack_spatial_convolution(x.contiguous(), conv.weight if weight is None else weight,
                                                 conv.bias, list(conv.padding), [1, 1])
    except RuntimeError:
        return conv(x)
