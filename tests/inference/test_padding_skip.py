"""The padding skip computes what the plain layers compute, on every size, and less of it."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fcn_core import Engine, FCNBundle
from fcn_core.inference.padding_skip import Op, PaddingSkip, axis_plan, axis_step, backbone_ops, work_fraction
from fcn_core.model.architecture import VGG16Backbone
from tests.helpers.models import randomize, tiny_meta

SMALL = 1 / 32  # 2…16 channels, fc 128: a full forward in milliseconds


def _backbone(seed: int = 0, width: float = SMALL) -> VGG16Backbone:
    torch.manual_seed(seed)
    bb = VGG16Backbone(width).eval()
    with torch.no_grad():  # biases far from zero: the constant bands and the edge zones all differ
        for m in bb.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.bias.normal_(0, 0.5)
    return bb


def _assert_same_features(bb: VGG16Backbone, x: torch.Tensor) -> None:
    with torch.no_grad():
        ref, got = bb(x), PaddingSkip(bb).features(x)
    for name in ("pool3", "pool4", "conv7"):
        a, b = getattr(ref, name), getattr(got, name)
        assert a.shape == b.shape, name
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5 * float(a.abs().max()) + 1e-6), name
    assert got.input_size == tuple(x.shape[-2:])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(h=st.integers(1, 140), w=st.integers(1, 140), n=st.integers(1, 2), seed=st.integers(0, 3))
def test_features_equal_the_plain_layers_on_any_size(h, w, n, seed):
    bb = _backbone(seed)
    _assert_same_features(bb, torch.randn(n, 3, h, w, generator=torch.Generator().manual_seed(seed)))


@pytest.mark.parametrize("size", [(1, 1), (1, 900), (700, 3), (33, 65), (257, 31)])
def test_features_equal_the_plain_layers_on_degenerate_and_wide_sizes(size):
    _assert_same_features(_backbone(), torch.randn(1, 3, *size))


def test_a_constant_image_and_the_zero_image_are_not_special():
    """Runs of identical pixels in the image are not mistaken for padding (a zero image equals the padding)."""
    bb = _backbone(1)
    _assert_same_features(bb, torch.zeros(1, 3, 50, 70))
    _assert_same_features(bb, torch.full((1, 3, 50, 70), 2.5))


def test_channels_last_input_and_the_engines_convolutions():
    """The engine hands in channels_last batches and its own convolution forms."""
    bundle = randomize(FCNBundle(tiny_meta(("8s",), width=0.25)))
    bb = bundle.backbones["shared"]
    x = torch.randn(2, 3, 45, 52).contiguous(memory_format=torch.channels_last)
    from fcn_core.inference.fast_forward import FastForward

    fast = FastForward(bundle)
    with torch.no_grad():
        ref, got = bb(x), fast.features("shared", x)
    for name in ("pool3", "pool4", "conv7"):
        a, b = getattr(ref, name), getattr(got, name)
        assert torch.allclose(a, b, atol=1e-4 * float(a.abs().max())), name


def test_it_computes_less_and_far_less_on_small_images():
    ops = backbone_ops(VGG16Backbone(SMALL))
    assert work_fraction((500, 500), ops) < 0.65
    assert work_fraction((1, 1), ops) < 0.1
    assert work_fraction((256, 256), ops) < work_fraction((1024, 1024), ops) < 1


def test_each_layer_is_planned_exactly_once_per_size():
    ops = backbone_ops(VGG16Backbone(SMALL))
    assert axis_plan(123, ops) is axis_plan(123, ops)
    steps = axis_plan(500, ops)
    assert [len(s.rows) for s in steps][-1] == 16  # conv7 of a 500-pixel side: 16 cells
    for s in steps:
        assert s.rows.max() < s.compact_length and s.compact_length <= len(s.rows)


def test_axis_step_maps_every_output_to_an_equal_window():
    """Outputs mapped to the same compact row read windows of the same classes (so the same values)."""
    rng = np.random.default_rng(0)
    for trial in range(30):
        runs = rng.integers(1, 30, size=rng.integers(1, 8))
        classes = np.repeat(np.arange(len(runs)), runs)
        rows = np.repeat(np.arange(len(runs)), runs)  # one compact row per run
        op = [Op("c", 3, 1, 1), Op("p", 2, 2, 0, ceil=True), Op("f", 7, 1, 0), Op("c100", 3, 1, 100)][trial % 4]
        step = axis_step(classes, rows, op)
        if op.out_length(len(classes)) == 0:
            continue
        padded = np.concatenate([np.full(op.padding, -1), classes, np.full(op.padding, -1)])
        window = {}
        for o, r in enumerate(step.rows):
            taps = padded[op.stride * o: op.stride * o + op.kernel]
            assert window.setdefault(int(r), tuple(taps)) == tuple(taps), (op, o)


@pytest.mark.parametrize("at_once", [False, True])
def test_engine_labels_equal_the_modules_for_every_head(at_once):
    bundle = randomize(FCNBundle(tiny_meta(at_once=at_once)))
    engine = Engine(copy.deepcopy(bundle), "cpu")
    rng = np.random.default_rng(2)
    for size in [(1, 1), (17, 300), (64, 64), (101, 47)]:
        image = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
        got = engine.predict(engine.cache_for(image))
        from fcn_core.model.normalize import to_input

        with torch.no_grad():
            ref = bundle.forward_all(to_input(bundle.meta.preprocessing, image))
        for v, s in ref.items():
            assert got[v].scores.shape == s.shape[1:], (size, v)
            assert np.allclose(got[v].scores, s[0].numpy(), atol=1e-4 * float(s.abs().max()) + 1e-6), (size, v)


def test_the_indexing_gather_equals_the_block_copies():
    """Off the CPU the compact tensors are gathered by indexing kernels: the same selection."""
    from fcn_core.inference.padding_skip import copy_blocks, select, select_by_index
    from fcn_core.inference.padding_skip import _runs

    x = torch.randn(2, 3, 9, 11).contiguous(memory_format=torch.channels_last)
    rows = np.array([-1, 0, 1, 1, 1, 5, 8, -1])
    cols = np.array([-1, 2, 3, 4, 10, 10, -1])
    expect = torch.zeros(2, 3, len(rows), len(cols))
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            if r >= 0 and c >= 0:
                expect[:, :, i, j] = x[:, :, r, c]
    for got in (select(x, rows, cols), copy_blocks(x, _runs(rows), _runs(cols)), select_by_index(x, rows, cols)):
        assert torch.equal(got, expect)
        assert got.is_contiguous(memory_format=torch.channels_last)


def test_scores_can_come_later_and_only_once():
    """On a device the engine hands out a function for the scores: fetched on first read, then kept."""
    from fcn_core.inference.results import Prediction

    calls = []
    scores = np.arange(12, dtype=np.float32).reshape(3, 2, 2)
    pred = Prediction("8s", scores.argmax(0).astype(np.uint8), lambda: calls.append(1) or scores)
    assert calls == []
    assert pred.scores is scores and pred.scores is scores and calls == [1]
    assert pred.score_source is scores  # the device copy is let go
    assert pred.pixel_summary(0, 0)[0] > 0


def test_each_resolution_gathers_once_and_keeps_few_spare_rows():
    """Only the first layer of each resolution gathers its input (a gather is a full copy), on every
    length from 1 to 400 pixels; and at 500 the compact grids keep the rows the measured plan keeps."""
    ops = backbone_ops(_backbone())
    firsts = {op.name for i, op in enumerate(ops) if i == 0 or ops[i - 1].stride > 1}
    for length in range(1, 401):
        steps = axis_plan(length, ops)
        for prev, op, step in zip(steps, ops[1:], steps[1:]):
            assert op.name in firsts or step.is_identity(prev.compact_length), (length, op.name)
    compact = {op.name: s.compact_length for op, s in zip(ops, axis_plan(500, ops))}
    assert (compact["conv1_2"], compact["conv2_2"], compact["conv3_3"]) == (518, 273, 155)
