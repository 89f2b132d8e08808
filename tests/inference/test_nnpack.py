"""NNPACK called directly (kernel transformed once, ReLU fused) gives bit for bit what torch's call and a
ReLU give, on every size; where it cannot run, torch's call does the work."""

from __future__ import annotations

import threading

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from fcn_core.inference import nnpack
from fcn_core.inference.nnpack import NnpackConv

pytestmark = pytest.mark.skipif(not torch.backends.nnpack.is_available(), reason="no NNPACK in this torch")


def _conv(c_in: int, c_out: int, seed: int, bias: bool = True) -> torch.nn.Conv2d:
    gen = torch.Generator().manual_seed(seed)
    conv = torch.nn.Conv2d(c_in, c_out, 3, padding=1, bias=bias)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen))
        if bias:
            conv.bias.copy_(torch.randn(c_out, generator=gen))
    return conv


def _torch_relu(conv: torch.nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """torch's NNPACK call and a ReLU, image by image (on a batch torch calls NNPACK's training-time
    function, whose sums are ordered otherwise; the engine runs the inference one on each image)."""
    bias = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels)
    return torch.cat([F.relu(torch._nnpack_spatial_convolution(image[None], conv.weight, bias, [1, 1], [1, 1]))
                      for image in x])


@pytest.fixture
def direct():
    """NNPACK's C function as the engine finds it (the check against torch's call run afresh)."""
    nnpack._load.cache_clear()
    api = nnpack._nnpack()
    if api is None:
        pytest.skip("this torch's CPU library does not export NNPACK's API here")
    yield api
    nnpack._load.cache_clear()


def test_this_torch_lets_the_engine_call_nnpack_directly():
    """The pinned torch on Linux exports NNPACK's API and passes the check, so the fast form is the one
    measured (a torch without it would silently keep its own call: this test says so)."""
    import sys

    nnpack._load.cache_clear()
    if sys.platform.startswith("linux"):
        assert nnpack._nnpack() is not None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(h=st.integers(1, 40), w=st.integers(1, 40), n=st.integers(1, 3), c_in=st.sampled_from([1, 3, 8, 17]),
       c_out=st.sampled_from([1, 8, 24]), bias=st.booleans(), seed=st.integers(0, 3))
def test_the_direct_call_equals_torchs_call_and_relu_bit_for_bit(direct, h, w, n, c_in, c_out, bias, seed):
    conv = _conv(c_in, c_out, seed, bias)
    x = torch.randn(n, c_in, h, w, generator=torch.Generator().manual_seed(seed + 10))
    layer = NnpackConv(conv)
    with torch.no_grad():
        got = layer.direct_relu(x)
        assert got is not None and layer.transformed  # the transformed kernel was used
        assert torch.equal(got, _torch_relu(conv, x))
        assert torch.equal(layer.relu(x), got)


@pytest.mark.parametrize("c_in, c_out", [(160, 24), (300, 520)])
def test_wide_layers_whose_channels_nnpack_takes_in_blocks(direct, c_in, c_out):
    """More input channels than NNPACK takes in one block (about 146 here): the transformed kernel's
    blocks are laid out as NNPACK's own per-call transform lays them out."""
    conv = _conv(c_in, c_out, 7)
    layer = NnpackConv(conv)
    x = torch.randn(1, c_in, 11, 14, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(layer.relu(x), _torch_relu(conv, x)) and layer.transformed


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(h=st.integers(1, 70), w=st.integers(1, 30), limit=st.integers(1, 200_000), n=st.integers(1, 2))
def test_strips_of_output_rows_give_the_one_call_result_bit_for_bit(direct, h, w, limit, n):
    """An image whose NNPACK scratch memory would pass ``WORKSPACE_LIMIT`` runs in strips of whole tile
    rows; the strips compute the same tiles, so the result is the one call's to the bit."""
    conv = _conv(8, 16, 6)
    layer = NnpackConv(conv)
    x = torch.randn(n, 8, h, w, generator=torch.Generator().manual_seed(h * 100 + w))
    with torch.no_grad():
        whole = layer.direct_relu(x)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(nnpack, "WORKSPACE_LIMIT", limit)
            calls = []
            strip = nnpack._Call.strip
            mp.setattr(nnpack._Call, "strip", lambda self, *a: calls.append(a[2:]) or strip(self, *a))
            striped = layer.direct_relu(x)
    assert striped is not None and torch.equal(striped, whole)
    assert torch.equal(whole, _torch_relu(conv, x))
    starts = sorted({r0 for r0, _ in calls})
    assert starts[0] == 0 and all(r0 % nnpack.TILE_ROWS == 0 for r0 in starts)
    assert sorted({r1 for _, r1 in calls})[-1] == h


def test_the_scratch_memory_of_a_large_image_stays_within_the_limit(direct, monkeypatch):
    """conv1_2's shape on a tall image: the calls' workspace stays within the limit (one call would need
    more than four times it)."""
    monkeypatch.setattr(nnpack, "WORKSPACE_LIMIT", 8 * 2**20)
    asked = []
    workspace = nnpack._workspace
    monkeypatch.setattr(nnpack, "_workspace", lambda size: asked.append(size) or workspace(size))
    conv = _conv(64, 64, 8)
    layer = NnpackConv(conv)
    x = torch.randn(1, 64, 300, 120)
    with torch.no_grad():
        got = layer.direct_relu(x)
        assert torch.equal(got, _torch_relu(conv, x))
    assert len(asked) > 4 and max(asked) <= 8 * 2**20


def test_layers_and_inputs_nnpack_does_not_take_go_to_torch(direct):
    conv = _conv(8, 16, 9)
    layer = NnpackConv(conv)
    assert not layer.suits(torch.randn(1, 8, 10, 10, dtype=torch.float64))
    assert not layer.suits(torch.randn(1, 5, 10, 10))  # not the layer's channels
    with torch.enable_grad():
        assert not layer.suits(torch.randn(1, 8, 10, 10, requires_grad=True))  # the gradient would be lost
    for other in (torch.nn.Conv2d(8, 16, 3, padding=1, stride=2), torch.nn.Conv2d(8, 16, 3, padding=1, dilation=2),
                  torch.nn.Conv2d(8, 16, 3, padding=1, groups=2), torch.nn.Conv2d(8, 16, 5, padding=2),
                  torch.nn.Conv2d(8, 16, 3, padding=1, padding_mode="reflect"), torch.nn.Conv2d(8, 16, 3, padding="same")):
        assert not NnpackConv(other).suits(torch.randn(1, 8, 10, 10))


def test_a_float64_default_dtype_does_not_change_the_buffers(direct):
    conv = _conv(8, 16, 10, bias=False)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        layer = NnpackConv(conv)
        x = torch.randn(1, 8, 9, 9, dtype=torch.float32)
        with torch.no_grad():
            got = layer.direct_relu(x)
    finally:
        torch.set_default_dtype(previous)
    assert got is not None and got.dtype == torch.float32 and layer.bias.dtype == torch.float32
    with torch.no_grad():
        assert torch.equal(got, _torch_relu(conv, x))


def test_the_kernel_is_transformed_once_for_every_size(direct):
    conv = _conv(16, 32, 1)
    layer = NnpackConv(conv)
    with torch.no_grad():
        layer.relu(torch.randn(1, 16, 30, 30))
        transform = layer._transform
        for size in ((7, 50), (64, 9)):
            x = torch.randn(2, 16, *size)
            assert torch.equal(layer.relu(x), _torch_relu(conv, x))
    assert layer._transform is transform


def test_without_memory_for_the_transform_the_kernel_is_transformed_per_call(direct, monkeypatch):
    monkeypatch.setattr(nnpack, "free_bytes", lambda: 1000)
    conv = _conv(8, 16, 2)
    layer = NnpackConv(conv)
    x = torch.randn(1, 8, 21, 19)
    with torch.no_grad():
        got = layer.direct_relu(x)
        assert got is not None and not layer.transformed
        assert torch.equal(got, _torch_relu(conv, x))
    monkeypatch.setattr(nnpack, "free_bytes", lambda: None)
    layer.relu(x)
    assert not layer.transformed  # refused once: not retried per image


def test_where_the_direct_call_is_not_available_torchs_call_runs(monkeypatch):
    monkeypatch.setattr(nnpack, "_nnpack", lambda: None)
    conv = _conv(8, 16, 3)
    layer = NnpackConv(conv)
    x = torch.randn(2, 8, 12, 15)
    with torch.no_grad():
        assert layer.direct_relu(x) is None
        assert torch.equal(layer.relu(x), _torch_relu(conv, x))
    assert not layer.transformed


def test_under_torch_compile_torchs_call_runs(direct, monkeypatch):
    """torch.compile traces the layers: there the convolution is torch's operator, not a ctypes call."""
    conv = _conv(8, 16, 5)
    layer = NnpackConv(conv)
    direct_calls = []
    monkeypatch.setattr(NnpackConv, "direct_relu", lambda self, x: direct_calls.append(x) or None)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    x = torch.randn(1, 8, 12, 15)
    with torch.no_grad():
        assert torch.equal(layer.relu(x), _torch_relu(conv, x))
    assert direct_calls == []


def test_a_library_that_answers_differently_is_not_used(monkeypatch):
    """The check against torch's call catches a wrong binding (here: the ReLU asked for as identity)."""
    nnpack._load.cache_clear()
    monkeypatch.setattr(nnpack, "_RELU", nnpack._IDENTITY)
    try:
        assert nnpack._nnpack() is None
    finally:
        nnpack._load.cache_clear()


def test_a_library_path_that_is_not_there_is_not_used(monkeypatch, tmp_path):
    nnpack._load.cache_clear()
    monkeypatch.setattr(nnpack, "_library_path", lambda: tmp_path / "libtorch_cpu.so")
    try:
        assert nnpack._nnpack() is None
    finally:
        nnpack._load.cache_clear()


def test_one_thread_and_concurrent_threads(direct):
    """With one intra-op thread NNPACK runs on the caller's; two Python threads at once each get their
    own scratch memory and the right answer."""
    conv = _conv(16, 16, 4)
    layer = NnpackConv(conv)
    inputs = [torch.randn(1, 16, 40 + 7 * i, 33) for i in range(4)]
    with torch.no_grad():
        expected = [_torch_relu(conv, x) for x in inputs]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            assert torch.equal(layer.relu(inputs[0]), expected[0])
    finally:
        torch.set_num_threads(threads)
    results: dict[int, bool] = {}

    def work(i: int) -> None:
        with torch.no_grad():
            results[i] = all(torch.equal(layer.relu(inputs[i]), expected[i]) for _ in range(5))

    workers = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert results == {0: True, 1: True, 2: True, 3: True}
