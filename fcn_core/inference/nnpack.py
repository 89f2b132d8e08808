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
        self._pools: dict[int, int | None] = {}
        self._lock = threading.Lock()

    def pool(self) -> int | None:
        """A thread pool as wide as torch's intra-op threads (made once per width; kept for the process)."""
        threads = torch.get_num_threads()
        with self._lock:
            if threads not in self._pools:
                self._pools[threads] = self._create_pool(threads) if threads > 1 else None
            return self._pools[threads]


def _library_path() -> Path | None:
    if not sys.platform.startswith("linux"):
        return None
    path = Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"
    return path if path.is_file() else None


@functools.cache
def _nnpack() -> _Nnpack | None:
    """NNPACK's API from this torch's CPU library, checked against torch's own call; None where not."""
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
    """Whether the direct call, with a transformed kernel, gives exactly torch's call + ReLU."""
    gen = torch.Generator().manual_seed(0)  # the user's random stream is left alone
    conv = torch.nn.Conv2d(8, 16, 3, padding=1)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen))
        conv.bias.copy_(torch.randn(16, generator=gen))
        x = torch.randn(1, 8, 13, 17, generator=gen)
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
        self.bias = (conv.bias.detach() if conv.bias is not None else torch.zeros(conv.out_channels)).contiguous()
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

    def direct_relu(self, x: torch.Tensor) -> torch.Tensor | None:
        """``relu(conv(x))`` through NNPACK's C function; None where it cannot run here or declines."""
        api = self._api or _nnpack()
        if api is None or x.dtype != torch.float32 or x.device.type != "cpu" or x.dim() != 4:
            return None
        x = x.contiguous()
        n, c_in, h, w = x.shape
        c_out = self.conv.out_channels
        pad_h, pad_w = self.conv.padding
        size, padding = _Size(w, h), _Padding(pad_h, pad_w, pad_h, pad_w)
        kernel, subsampling = _Size(3, 3), _Size(1, 1)
        transform = self._kernel_transform(api, size, padding)
        strategy, kernel_ptr = (_REUSE, transform.data_ptr()) if transform is not None else (_COMPUTE, self.weight.data_ptr())
        pool = api.pool()
        need = ctypes.c_size_t(0)
        common = (_WT8X8, strategy, c_in, c_out, size, padding, kernel, subsampling)
        # asked with no workspace, NNPACK only says how much it needs
        if api.inference(*common, None, kernel_ptr, None, None, None, ctypes.byref(need), _RELU, None, pool, None) != _SUCCESS:
            return None
        out = torch.empty((n, c_out, h + 2 * pad_h - 2, w + 2 * pad_w - 2))
        workspace = _workspace(need.value)
        for i in range(n):
            status = api.inference(*common, x[i].data_ptr(), kernel_ptr, self.bias.data_ptr(), out[i].data_ptr(),
                                   workspace.data_ptr(), ctypes.byref(ctypes.c_size_t(workspace.numel())),
                                   _RELU, None, pool, None)
            if status != _SUCCESS:
                return None
        return out

    def _kernel_transform(self, api: _Nnpack, size: _Size, padding: _Padding) -> torch.Tensor | None:
        """The kernel in NNPACK's transformed form, made on first use (C_out·C_in·64 floats: 64 MB for a
        512→512 layer), unless the memory it takes is not free: then the kernel is transformed per call."""
        with self._lock:
            if self._transform is None and not self._transform_refused:
                common = (_WT8X8, _PRECOMPUTE, self.conv.in_channels, self.conv.out_channels, size, padding,
                          _Size(3, 3), _Size(1, 1), None, self.weight.data_ptr(), self.bias.data_ptr(), None)
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


def torch_nnpack_conv(x: torch.Tensor, conv: torch.nn.Conv2d, weight: torch.Tensor | None = None) -> torch.Tensor:
    """``conv(x)`` through torch's NNPACK call (NCHW in and out); the direct form where NNPACK declines the
    input. ``weight``: the layer's weight in NCHW, when kept (NNPACK copies a channels_last one on every call)."""
    try:
        return torch._nnpack_spatial_convolution(x.contiguous(), conv.weight if weight is None else weight,
                                                 conv.bias, [1, 1], [1, 1])
    except RuntimeError:
        return conv(x)
