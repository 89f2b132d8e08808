"""Winograd convolutions and the faster pooling give what the plain layers give, on every size."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from fcn_core import Engine, FCNBundle
from fcn_core.inference import winograd
from fcn_core.inference.fast_forward import FastForward
from fcn_core.inference.fast_ops import max_pool_2x2
from fcn_core.inference.winograd import WinogradConv, winograd_matrices
from tests.helpers.models import randomize, tiny_meta

pytestmark = pytest.mark.skipif(not winograd.linear_available(), reason="this torch has no oneDNN linear")


@pytest.fixture
def everywhere(monkeypatch):
    """Winograd on every size and every width (the thresholds are speed choices, not correctness)."""
    monkeypatch.setattr(winograd, "MIN_POSITIONS", {3: 1, 7: 1})
    monkeypatch.setattr(winograd, "MAX_POSITIONS", {3: None, 7: None})
    monkeypatch.setattr(winograd, "MIN_3X3_CHANNELS", 1)
    monkeypatch.setattr(winograd, "MIN_7X7_CHANNELS", 1)


def _plain_relu(conv: torch.nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return F.relu(F.conv2d(x.double(), conv.weight.double(), conv.bias.double(), padding=conv.padding))


def _conv(c_in: int, c_out: int, k: int, seed: int) -> torch.nn.Conv2d:
    torch.manual_seed(seed)
    conv = torch.nn.Conv2d(c_in, c_out, k, padding=1 if k == 3 else 0)
    with torch.no_grad():
        conv.bias.normal_(0, 0.5)  # a wrong bias placement shows
    return conv


@pytest.mark.parametrize("k", sorted(winograd.TILE_AND_POINTS))
def test_the_tile_identity_holds_exactly(k):
    m, points = winograd.TILE_AND_POINTS[k]
    at, g, bt = winograd_matrices(m, k, points)
    rng = np.random.default_rng(k)
    for _ in range(20):
        d, w = rng.standard_normal(m + k - 1), rng.standard_normal(k)
        direct = np.array([d[i:i + k] @ w for i in range(m)])
        assert np.allclose(at @ ((g @ w) * (bt @ d)), direct, rtol=0, atol=1e-12)
    # other tile sizes come out of the same construction
    at, g, bt = winograd_matrices(6, 3, (0, 1, -1, 2, -2, 0.5, -0.5))
    d, w = rng.standard_normal(8), rng.standard_normal(3)
    assert np.allclose(at @ ((g @ w) * (bt @ d)), [d[i:i + 3] @ w for i in range(6)], atol=1e-12)


def test_the_wrong_number_of_points_is_refused():
    with pytest.raises(ValueError, match="needs 5 finite points, got 3"):
        winograd_matrices(4, 3, (0, 1, -1))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(k=st.sampled_from([3, 7]), h=st.integers(1, 40), w=st.integers(1, 40), n=st.integers(1, 2),
       seed=st.integers(0, 5), channels_last=st.booleans())
def test_winograd_equals_the_plain_convolution_on_any_size(everywhere, k, h, w, n, seed, channels_last):
    if k == 7:  # fc6 has no padding: its input is at least the kernel
        h, w = h + 6, w + 6
    conv = _conv(5, 7, k, seed)
    x = torch.randn(n, 5, h, w, generator=torch.Generator().manual_seed(seed))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    fast = WinogradConv(conv)
    assert fast.ready_for(h, w)
    ref, got = _plain_relu(conv, x), fast.relu(x)
    assert got.shape == ref.shape and got.dtype == torch.float32
    assert torch.allclose(got.double(), ref, rtol=0, atol=2e-5 * float(ref.abs().max()) + 1e-6)


@pytest.mark.parametrize("size", [(1, 1), (1, 300), (300, 1), (37, 5)])
def test_degenerate_and_wide_grids(everywhere, size):
    conv = _conv(4, 6, 3, 1)
    x = torch.randn(2, 4, *size)
    fast = WinogradConv(conv)
    assert fast.ready_for(*size)
    ref = _plain_relu(conv, x)
    assert torch.allclose(fast.relu(x).double(), ref, atol=2e-5 * float(ref.abs().max()) + 1e-6)


def test_bands_of_tiles_give_the_one_band_result(everywhere, monkeypatch):
    conv = _conv(8, 8, 3, 2)
    x = torch.randn(2, 8, 70, 45)
    fast = WinogradConv(conv)
    assert fast.ready_for(70, 45)
    whole = fast.relu(x)
    monkeypatch.setattr(winograd, "BAND_BYTES", 1)  # bands as small as the weights allow
    monkeypatch.setattr(WinogradConv, "weight_bytes", 1)  # one tile row per band
    assert torch.allclose(fast.relu(x), whole, rtol=0, atol=1e-5 * float(whole.abs().max()))


def test_wide_convolutions_at_full_width_agree_to_float_rounding():
    """The shapes the engine uses it on: fc6 512→4096 channels (here 512→256) and a 512-channel 3×3."""
    for k, c_out, size in ((7, 256, 22), (3, 512, 44)):
        conv = _conv(512, c_out, k, 3)
        torch.nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
        x = torch.relu(torch.randn(1, 512, size, size))
        fast = WinogradConv(conv)
        assert WinogradConv.suits(conv) and fast.ready_for(size, size)
        ref = _plain_relu(conv, x)
        rel = float((fast.relu(x).double() - ref).abs().max() / ref.abs().max())
        assert rel < 1e-4, (k, rel)


def test_what_does_not_suit_or_pay_is_left_to_the_direct_forms():
    assert not WinogradConv.suits(torch.nn.Conv2d(512, 512, 3, padding=1, stride=2))
    assert not WinogradConv.suits(torch.nn.Conv2d(128, 128, 3, padding=1))  # narrow: NNPACK wins
    assert not WinogradConv.suits(torch.nn.Conv2d(512, 512, 5, padding=2))
    assert not WinogradConv.suits(torch.nn.Conv2d(512, 4096, 7).double())
    assert not WinogradConv.suits(torch.nn.Conv2d(64, 512, 7))  # the demo model's fc6: oneDNN's direct form wins
    assert WinogradConv.suits(torch.nn.Conv2d(256, 2048, 7))
    fc6 = WinogradConv(torch.nn.Conv2d(8, 16, 7))
    assert not fc6.ready_for(8, 8)  # 2×2 outputs: the direct product is faster
    assert fc6._weights is None  # and nothing was built for it


def test_the_weights_are_built_once_and_only_when_memory_allows(monkeypatch):
    conv = torch.nn.Conv2d(8, 16, 7)
    monkeypatch.setattr(winograd, "free_bytes", lambda: 1000)
    fast = WinogradConv(conv)
    assert not fast.ready_for(40, 40)
    assert fast._weights is None
    monkeypatch.setattr(winograd, "free_bytes", lambda: None)
    assert not fast.ready_for(40, 40)  # refused once: not retried per image
    other = WinogradConv(conv)
    assert other.ready_for(40, 40)
    built = other._weights
    assert other.ready_for(30, 30) and other._weights is built


def test_the_engine_falls_back_when_the_weights_do_not_fit(everywhere, monkeypatch):
    bundle = randomize(FCNBundle(tiny_meta(("8s",))))
    x = torch.randn(1, 3, 300, 260)
    asked, built = [], []
    monkeypatch.setattr(winograd, "free_bytes", lambda: asked.append(1) or 10)
    monkeypatch.setattr(WinogradConv, "_transformed_weights", lambda self: built.append(self) or [])
    with torch.no_grad():
        ref, got = bundle.features("shared", x), FastForward(bundle).features("shared", x)
    assert asked and built == []  # the layers that suit asked for their weights; the memory was refused
    assert torch.allclose(got.conv7, ref.conv7, atol=1e-5 * float(ref.conv7.abs().max()))


@pytest.mark.parametrize("at_once", [False, True])
def test_the_engine_with_winograd_layers_gives_the_modules_scores(everywhere, monkeypatch, at_once):
    """fc6 and every 3×3 layer from conv2 on in F(m, r) inside the engine (the padding skip's compact
    grids, its gathers and pools), all three heads: the plain modules' scores to float rounding."""
    from fcn_core.model.normalize import to_input

    used = []
    relu = WinogradConv.relu
    monkeypatch.setattr(WinogradConv, "relu", lambda self, x: used.append(self.r) or relu(self, x))

    bundle = randomize(FCNBundle(tiny_meta(width=0.125, at_once=at_once)))
    engine = Engine(copy.deepcopy(bundle), "cpu")
    bb = bundle.backbones["shared"]
    wino = [n for names in bb.block_layers for n in names if WinogradConv.suits(getattr(bb, n))]
    assert "conv5_3" in wino and WinogradConv.suits(bb.fc6)
    rng = np.random.default_rng(4)
    for size in [(1, 1), (230, 301), (40, 520)]:
        image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        got = engine.predict(engine.cache_for(image))
        with torch.no_grad():
            ref = bundle.forward_all(to_input(bundle.meta.preprocessing, image))
        for v, s in ref.items():
            assert np.allclose(got[v].scores, s[0].numpy(), atol=1e-4 * float(s.abs().max()) + 1e-6), (size, v)
    assert used.count(7) >= 2 and used.count(3) >= 2 * 11  # fc6, and conv1_2 … conv5_3 (not the padded conv1_1)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 5), h=st.integers(1, 33), w=st.integers(1, 33),
       special=st.sampled_from([None, float("nan"), float("inf"), float("-inf")]))
def test_max_pool_equals_torchs_on_any_size(n, c, h, w, special):
    x = torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(h * 97 + w))
    if special is not None:
        x[0, 0, h // 2, w // 2] = special
    ref = F.max_pool2d(x, 2, stride=2, ceil_mode=True)
    assert torch.equal(max_pool_2x2(x), ref) or torch.allclose(max_pool_2x2(x), ref, equal_nan=True, rtol=0, atol=0)
    cl = x.contiguous(memory_format=torch.channels_last)
    pooled = max_pool_2x2(cl)  # few channels: the pairwise form, in channels_last
    assert torch.allclose(pooled, ref, equal_nan=True, rtol=0, atol=0)
    assert pooled.is_contiguous(memory_format=torch.channels_last)


def test_under_torch_compile_the_direct_forms_run(everywhere, monkeypatch):
    """torch.compile traces the plain layers: building the Winograd weights on first use is a side effect
    it cannot trace, so the conv plan leaves them out while compiling."""
    bundle = randomize(FCNBundle(tiny_meta(("8s",))))
    fast = FastForward(bundle)
    asked = []
    monkeypatch.setattr(WinogradConv, "ready_for", lambda self, h, w: asked.append((h, w)) or False)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    x = torch.randn(1, 3, 260, 230)
    with torch.no_grad():
        got = fast.features("shared", x)
        monkeypatch.setattr(torch.compiler, "is_compiling", lambda: False)
        ref = bundle.features("shared", x)
    assert asked == []
    assert torch.allclose(got.conv7, ref.conv7, atol=1e-5 * float(ref.conv7.abs().max()))
