"""The FCN layout: sizes, bilinear initialisation, crop geometry, skip contributions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fcn_core import FCNBundle, bilinear_kernel
from fcn_core.model.architecture import GRID_ORIGIN, FCNHead, VGG16Backbone, channels_at_width
from tests.helpers.models import randomize, tiny_meta


@pytest.mark.parametrize("size", [(1, 1), (1, 37), (45, 1), (2, 3), (31, 33), (64, 64), (100, 257)])
def test_output_is_input_size_for_every_variant(tiny_bundle, size):
    with torch.no_grad():
        out = tiny_bundle.forward_all(torch.randn(1, 3, *size))
    for variant, scores in out.items():
        assert tuple(scores.shape) == (1, 5, *size), variant


@settings(max_examples=12, deadline=None)
@given(st.integers(1, 140), st.integers(1, 140))
def test_output_size_property(h, w):
    bundle = FCNBundle(tiny_meta(("8s",)))
    with torch.no_grad():
        assert tuple(bundle(torch.randn(1, 3, h, w)).shape[-2:]) == (h, w)


def test_very_thin_image():
    bundle = FCNBundle(tiny_meta(("32s", "8s"))).eval()
    with torch.no_grad():
        out = bundle.forward_all(torch.randn(1, 3, 1, 2000))
    assert all(tuple(o.shape[-2:]) == (1, 2000) for o in out.values())


@pytest.mark.parametrize("k", [4, 16, 32, 64, 5])
def test_bilinear_kernel_matches_formula(k):
    w = bilinear_kernel(3, k)
    f = (k + 1) // 2
    c = f - 1 if k % 2 else f - 0.5
    for y in range(k):
        for x in range(k):
            expected = (1 - abs(y - c) / f) * (1 - abs(x - c) / f)
            assert w[1, 1, y, x].item() == pytest.approx(expected)
    off_diag = w.clone()
    off_diag[range(3), range(3)] = 0
    assert off_diag.abs().sum() == 0


def test_heads_upsample_bilinearly_without_bias():
    head = FCNHead("8s", 4, VGG16Backbone(0.0625))
    for name in ("upscore2", "upscore_pool4", "upscore8"):
        layer = getattr(head, name)
        assert layer.bias is None
        assert torch.equal(layer.weight, bilinear_kernel(4, layer.kernel_size[0]))
    # stride-2 bilinear: a constant map stays constant away from the border
    up = head.upscore2(torch.ones(1, 4, 6, 6))
    assert torch.allclose(up[:, :, 2:-2, 2:-2], torch.ones(1))


def test_backbone_layout_at_full_width():
    bb = VGG16Backbone(1.0)
    assert bb.conv1_1.padding == (100, 100)
    assert bb.conv1_2.padding == (1, 1)
    assert tuple(bb.fc6.weight.shape) == (4096, 512, 7, 7)
    assert tuple(bb.fc7.weight.shape) == (4096, 4096, 1, 1)
    assert channels_at_width(0.125) == ([8, 16, 32, 64, 64], 512)


@pytest.mark.parametrize("variant,stride", [("32s", 32), ("16s", 16), ("8s", 8)])
def test_grid_origin_places_coarsest_cells(variant, stride):
    """A unit score at coarse cell (i, j) peaks in the final map at origin + stride * index."""
    bundle = FCNBundle(tiny_meta((variant,))).eval()
    head = bundle.heads[variant]
    with torch.no_grad():
        feats = bundle.features("shared", torch.zeros(1, 3, 200, 200))
        step = {"32s": "score_fr", "16s": "fuse_pool4", "8s": "fuse_pool3"}[variant]
        grid = head.fusion(feats)[step]
        delta = torch.zeros_like(grid)
        delta[0, 0, 3, 4] = 1.0
        layer, crop = {"32s": ("upscore", 19), "16s": ("upscore16", 27), "8s": ("upscore8", 31)}[variant]
        final = getattr(head, layer)(delta)[0, 0, crop: crop + 200, crop: crop + 200]
    ys, xs = np.nonzero(final.numpy() == final.max().item())
    assert ys.mean() == pytest.approx(GRID_ORIGIN[stride] + stride * 3, abs=0.01)
    assert xs.mean() == pytest.approx(GRID_ORIGIN[stride] + stride * 4, abs=0.01)


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
def test_contributions_sum_to_final(variant):
    bundle = randomize(FCNBundle(tiny_meta((variant,))))
    with torch.no_grad():
        feats = bundle.features("shared", torch.randn(1, 3, 75, 61) * 50)
        head = bundle.heads[variant]
        final = head(feats)
        parts = head.contributions(feats)
    assert set(parts) == {"32s": {"conv7"}, "16s": {"conv7", "pool4"}, "8s": {"conv7", "pool4", "pool3"}}[variant]
    total = sum(parts.values())
    assert torch.allclose(total, final, atol=1e-5 * final.abs().max().item() + 1e-6)
    if variant != "32s":
        assert parts["pool4"].abs().max() > 0


def test_at_once_scales_skips():
    meta = tiny_meta(("8s",), at_once=True)
    plain_meta = tiny_meta(("8s",))
    a = randomize(FCNBundle(meta))
    b = FCNBundle(plain_meta)
    b.load_state_dict(a.state_dict())
    with torch.no_grad():
        b.heads["8s"].score_pool4.weight.mul_(0.01)
        b.heads["8s"].score_pool3.weight.mul_(0.0001)
        x = torch.randn(1, 3, 50, 50) * 50
        assert torch.allclose(a.eval()(x), b.eval()(x), atol=1e-4)


def test_zeroed_skip_layers_add_nothing():
    bundle = randomize(FCNBundle(tiny_meta(("8s",))))
    bundle.heads["8s"].zero_skip_scores()
    with torch.no_grad():
        parts = bundle.heads["8s"].contributions(bundle.features("shared", torch.randn(1, 3, 40, 40)))
    assert parts["pool4"].abs().max() == 0 and parts["pool3"].abs().max() == 0
