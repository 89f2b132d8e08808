"""The engine's fast equivalent forms, tiles, batches, lazy confidence and out-of-memory fallbacks."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from fcn_core import Engine, FCNBundle
from fcn_core.inference.confidence import margin_and_entropy
from fcn_core.inference.fast_forward import FastForward
from fcn_core.inference.fast_ops import phase_kernel, upsample
from fcn_core.inference.tiling import plan_tiles
from tests.helpers.models import randomize, tiny_meta


@pytest.mark.parametrize("stride,c_in,c_out", [(2, 5, 5), (8, 3, 4), (16, 2, 3), (32, 2, 2)])
def test_phase_form_equals_transposed_convolution(stride, c_in, c_out):
    g = torch.Generator().manual_seed(stride)
    w = torch.randn(c_in, c_out, 2 * stride, 2 * stride, generator=g)
    x = torch.randn(2, c_in, 5, 7, generator=g)
    ref = F.conv_transpose2d(x, w, stride=stride)
    out = upsample(x, phase_kernel(w, stride), stride)
    assert out.shape == ref.shape
    assert torch.allclose(out, ref, atol=1e-5)


@settings(max_examples=80, deadline=None)
@given(stride=st.sampled_from([2, 8, 16, 32]), h=st.integers(1, 9), w=st.integers(1, 9), n=st.integers(1, 2),
       offset=st.integers(0, 70), height=st.integers(1, 90), width=st.integers(1, 90), channels_last=st.booleans(),
       diagonal=st.booleans())
def test_upsampling_a_window_equals_cropping_the_transposed_convolution(stride, h, w, n, offset, height, width,
                                                                      channels_last, diagonal):
    """The final upsampling computes only the cells the crop keeps, per class where the weights map each
    class only to itself, and shuffles them into place: the crop of the transposed convolution, for every
    stride, size, offset and window, including windows past the map."""
    from fcn_core.inference.fast_ops import diagonal_phase_kernel, upsample_crop
    from fcn_core.model.architecture import crop_like

    g = torch.Generator().manual_seed(h * 100 + w)
    x = torch.randn(n, 3, h, w, generator=g)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    weight = torch.randn(3, 3, 2 * stride, 2 * stride, generator=g)
    if diagonal:
        weight *= torch.eye(3)[:, :, None, None]
    kernel = diagonal_phase_kernel(weight, stride) if diagonal else phase_kernel(weight, stride)
    assert kernel.shape[1] == (1 if diagonal else 3)
    ref = crop_like(F.conv_transpose2d(x, weight, stride=stride), offset, height, width)
    for got in (upsample_crop(x, kernel, stride, offset, height, width),
                crop_like(upsample(x, kernel, stride), offset, height, width)):
        assert got.shape == ref.shape
        assert torch.allclose(got, ref, rtol=0, atol=1e-4)


def test_only_a_class_to_itself_upsampling_is_diagonal():
    from fcn_core.inference.fast_ops import diagonal_phase_kernel
    from fcn_core.model.architecture import bilinear_kernel

    weight = bilinear_kernel(4, 16)
    assert diagonal_phase_kernel(weight, 8) is not None
    weight[1, 2, 3, 3] = 1e-30  # one class leaking into another, however little
    assert diagonal_phase_kernel(weight, 8) is None
    assert diagonal_phase_kernel(torch.zeros(3, 4, 4, 4), 2) is None  # classes in ≠ classes out


def test_bilinear_heads_run_per_class_with_the_modules_results():
    """With the public FCNs' fixed bilinear upsamplings every variant's final scores (and skip steps)
    are the modules', through the per-class form."""
    bundle = FCNBundle(tiny_meta())
    for name, p in randomize(FCNBundle(tiny_meta())).named_parameters():
        if "upscore" not in name:  # random everything, the upsamplings left bilinear
            bundle.get_parameter(name).data.copy_(p)
    fast = FastForward(bundle)
    assert all(k.shape[1] == 1 for kernels in fast._kernels.values() for k, _ in kernels.values())
    x = torch.randn(1, 3, 70, 93)
    with torch.no_grad():
        feats = fast.features("shared", x)
        for v in ("32s", "16s", "8s"):
            head = bundle.heads[v]
            ref, out = head.fusion(feats), head.fusion(feats, fast.upsampler(v))
            for k in ref:
                assert torch.allclose(out[k], ref[k], atol=1e-4 * float(ref[k].abs().max())), (v, k)


def test_phase_form_refuses_other_kernels():
    with pytest.raises(ValueError, match="twice the stride"):
        phase_kernel(torch.zeros(2, 2, 5, 5), 2)


def test_fast_forward_gives_the_modules_results(tiny_bundle):
    fast = FastForward(tiny_bundle)
    x = torch.randn(1, 3, 61, 83)
    with torch.no_grad():
        ref_feats = tiny_bundle.features("shared", x)
        feats = fast.features("shared", x)
        assert torch.allclose(feats.conv7, ref_feats.conv7, atol=1e-5)
        for v in ("32s", "16s", "8s"):
            head = tiny_bundle.heads[v]
            ref, out = head.fusion(ref_feats), head.fusion(feats, fast.upsampler(v))
            assert ref.keys() == out.keys()
            for k in ref:
                assert torch.allclose(out[k], ref[k], atol=1e-4), (v, k)
            ref_c, out_c = head.contributions(ref_feats), head.contributions(feats, fast.upsampler(v))
            for k in ref_c:
                assert torch.allclose(out_c[k], ref_c[k], atol=1e-4), (v, k)


def test_confidence_and_entropy_match_softmax():
    rng = np.random.default_rng(0)
    scores = (rng.standard_normal((5, 37, 29)) * 4).astype(np.float32)
    margin, entropy = margin_and_entropy(scores)
    p = torch.softmax(torch.from_numpy(scores), 0)
    top2 = p.topk(2, 0).values
    assert np.allclose(margin, (top2[0] - top2[1]).numpy(), atol=1e-6)
    assert np.allclose(entropy, (-(p * p.log()).sum(0)).numpy(), atol=1e-5)


def test_prediction_confidence_is_lazy_and_cached(tiny_bundle, rgb_image):
    pred = Engine(tiny_bundle, "cpu").segment(rgb_image)
    assert "_summary" not in pred.__dict__
    assert pred.materialize() is pred and "_summary" in pred.__dict__
    assert pred.confidence is pred.confidence


def test_tiles_cover_the_image_on_the_stride_32_grid():
    tiles = plan_tiles(1000, 700, 300, 100)
    cover = np.zeros((1000, 700), int)
    for t in tiles:
        y0, y1, x0, x1 = t.core
        cover[y0:y1, x0:x1] += 1
        wy0, wy1, wx0, wx1 = t.window
        assert wy0 % 32 == 0 and wx0 % 32 == 0
        assert wy0 <= y0 and y1 <= wy1 and wx0 <= x0 and x1 <= wx1
    assert (cover == 1).all()


@pytest.fixture
def big_image() -> np.ndarray:
    rng = np.random.default_rng(3)
    small = rng.integers(0, 255, (30, 40, 3)).astype(np.uint8)
    import cv2
    img = cv2.resize(small, (700, 520), interpolation=cv2.INTER_LINEAR)
    return np.clip(img.astype(int) + rng.integers(-10, 10, img.shape), 0, 255).astype(np.uint8)


def test_tiled_labels_match_untiled(tiny_bundle, big_image):
    whole = Engine(copy.deepcopy(tiny_bundle), "cpu")
    tiled = Engine(copy.deepcopy(tiny_bundle), "cpu", max_pixels=100_000, tile=256)
    a, b = whole.cache_for(big_image), tiled.cache_for(big_image)
    for v in ("32s", "16s", "8s"):
        pw, pt = whole.predict(a, [v])[v], tiled.predict(b, [v])[v]
        assert (pw.labels == pt.labels).mean() >= 0.999, v
        assert np.allclose(pw.scores, pt.scores, atol=1e-3 * np.abs(pw.scores).max())
    again = tiled.cache_for(big_image)
    passes = tiled.backbone_passes
    tiled.predict(again)
    assert tiled.backbone_passes - passes == len(plan_tiles(*big_image.shape[:2], 256))  # one pass per tile for all heads
    with pytest.raises(ValueError, match="skip-fusion view needs"):
        tiled.fusion(b, "8s")


def test_batch_equals_one_by_one(tiny_bundle, rgb_image):
    engine = Engine(tiny_bundle, "cpu")
    images = [rgb_image, rgb_image[::-1].copy(), np.ascontiguousarray(rgb_image[:, ::-1])]
    batch = engine.predict_batch(images)
    for img, got in zip(images, batch):
        one = engine.predict(engine.cache_for(img))
        for v in one:
            assert np.array_equal(got[v].labels, one[v].labels)
            assert np.allclose(got[v].scores, one[v].scores, atol=1e-5 * np.abs(one[v].scores).max())
    mixed = engine.predict_batch([rgb_image, rgb_image[:50]], ["8s"])  # sizes differ: one by one
    assert mixed[1]["8s"].labels.shape == (50, rgb_image.shape[1])


def _oom_above(engine: Engine, pixels: int) -> list[tuple[int, int]]:
    """Make the engine's backbone raise OutOfMemoryError on inputs above ``pixels``; record input sizes."""
    seen = []
    real = engine._run_backbone

    def run(backbone, x):
        seen.append(tuple(x.shape[-2:]))
        if x.shape[-2] * x.shape[-1] > pixels:
            raise torch.OutOfMemoryError("simulated")
        return real(backbone, x)

    engine._run_backbone = run
    return seen


def test_out_of_memory_falls_back_to_tiles(tiny_bundle, big_image):
    ref = Engine(copy.deepcopy(tiny_bundle), "cpu").segment(big_image)
    engine = Engine(copy.deepcopy(tiny_bundle), "cpu")
    notices = []
    engine.on_notice = notices.append
    seen = _oom_above(engine, 330_000)  # the whole image (364k pixels) fails, its tiles fit
    pred = engine.segment(big_image)
    assert (pred.labels == ref.labels).mean() >= 0.999
    assert seen[0] == big_image.shape[:2] and len(seen) > 2
    assert notices and "running it in tiles" in notices[0]


def test_out_of_memory_even_in_tiles_falls_back_to_the_cpu(tiny_bundle, big_image):
    ref = Engine(copy.deepcopy(tiny_bundle), "cpu").segment(big_image)
    engine = Engine(copy.deepcopy(tiny_bundle), "cpu")
    engine.cpu_fallback = True  # as on CUDA: the CPU twin takes over
    _oom_above(engine, 1)
    pred = engine.segment(big_image)
    assert np.array_equal(pred.labels, ref.labels)
    assert "on the CPU" in engine.notices[-1]
    engine.cpu_fallback = False  # a CPU engine has nowhere to go: the error surfaces
    with pytest.raises(torch.OutOfMemoryError):
        engine.segment(big_image)


def test_separate_backbones_in_tiles_and_batches(rgb_image, big_image):
    bundle = randomize(FCNBundle(tiny_meta(shared=False)))
    whole = Engine(copy.deepcopy(bundle), "cpu").predict
    tiled = Engine(copy.deepcopy(bundle), "cpu", max_pixels=100_000, tile=256)
    ref = whole(Engine(copy.deepcopy(bundle), "cpu").cache_for(big_image))
    got = tiled.predict(tiled.cache_for(big_image))
    for v in ref:
        assert (ref[v].labels == got[v].labels).mean() >= 0.999


@pytest.mark.parametrize("kernel, padding", [(1, 0), (3, 1), (7, 0)])
@pytest.mark.parametrize("size", [(1, 1), (2, 5), (6, 6), (9, 11)])
def test_prepacked_convolutions_agree_on_tiny_grids(kernel, padding, size):
    """Prepacked oneDNN forms against the plain layer, down to 1×1 grids (a small image's fc6 and fc7); a
    1×1 layer runs as oneDNN's linear, for which oneDNN does not lay the weight out again per call."""
    from fcn_core.inference.fast_ops import PackedConv

    torch.manual_seed(kernel)
    conv = torch.nn.Conv2d(24, 40, kernel, padding=padding).eval()
    packed = PackedConv(conv)
    assert packed.pointwise == (kernel == 1)
    h, w = size[0] + kernel - 1 - 2 * padding, size[1] + kernel - 1 - 2 * padding
    for fmt in (torch.channels_last, torch.contiguous_format):
        x = torch.randn(2, 24, h, w).contiguous(memory_format=fmt)
        with torch.no_grad():
            ref, got = F.relu(conv(x)), packed.relu(x)
        assert got.shape == ref.shape == (2, 40, *size)
        assert got.is_contiguous(memory_format=torch.channels_last)
        assert torch.allclose(got, ref, atol=1e-5 * float(ref.abs().max()) + 1e-6)


def test_wide_backbone_runs_winograd_and_packed_fc6_with_the_same_results():
    """At width 1/4 the 3×3 convs from pool2 on are wide enough for NNPACK, and fc6 and fc7 run prepacked."""
    from fcn_core.inference.fast_ops import winograd_suits

    bundle = randomize(FCNBundle(tiny_meta(("8s",), width=0.25)))
    bb = bundle.backbones["shared"]
    assert [n for names in bb.block_layers for n in names if winograd_suits(getattr(bb, n))] == (
        ["conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3"] if torch.backends.nnpack.is_available() else [])
    fast = FastForward(bundle)
    x = torch.randn(2, 3, 45, 52)
    with torch.no_grad():
        ref, out = bundle.features("shared", x), fast.features("shared", x)
        for name in ("pool3", "pool4", "conv7"):
            a, b = getattr(ref, name), getattr(out, name)
            assert torch.allclose(a, b, atol=1e-4 * a.abs().max()), name


def test_a_race_names_the_fastest_form():
    import time

    from fcn_core.inference.form_race import race

    calls = []

    def slow():
        calls.append("slow")
        time.sleep(0.02)
        return "slow result"

    winner = race({"slow": slow, "fast": lambda: calls.append("fast") or "fast result"}, rounds=3)
    assert winner == "fast"
    assert calls == ["slow", "fast"] * 3  # in turn, so both see the same machine load


@pytest.fixture
def narrow_conv1(monkeypatch):
    """conv1_2 of a width-1/8 net (8→8) treated as the 64→64 layer whose form the CPU decides, the race
    run on any size, and NNPACK's calls recorded."""
    from fcn_core.inference import fast_forward
    from fcn_core.inference.nnpack import NnpackConv

    if not torch.backends.nnpack.is_available():
        pytest.skip("no NNPACK in this torch")
    monkeypatch.setattr(fast_forward, "winograd_suits",
                        lambda conv, narrow=False: conv.kernel_size == (3, 3) and (narrow or conv.out_channels >= 16))
    monkeypatch.setattr(fast_forward, "CONV1_RACE_MIN_POSITIONS", 1)
    monkeypatch.setattr(fast_forward, "WINOGRAD_MIN_POSITIONS", 1)
    ran = []
    relu = NnpackConv.relu
    monkeypatch.setattr(NnpackConv, "relu", lambda self, x: ran.append((self.conv, tuple(x.shape))) or relu(self, x))
    return ran


@pytest.mark.parametrize("conv1_nchw", [None, True, False])
def test_either_form_of_conv1_gives_the_modules_features(narrow_conv1, conv1_nchw):
    """conv1 prepacked in channels_last, or in NCHW with NNPACK's conv1_2, or raced on the first image:
    the modules' features to float rounding, and the form asked for (or raced) is the one that ran."""
    bundle = randomize(FCNBundle(tiny_meta(("8s",), width=0.125)))
    bb = bundle.backbones["shared"]
    fast = FastForward(bundle, conv1_nchw=conv1_nchw)
    for size in ((40, 57), (23, 31)):
        x = torch.randn(1, 3, *size)
        narrow_conv1.clear()
        with torch.no_grad():
            ref, got = bundle.features("shared", x), fast.features("shared", x)
        for name in ("pool3", "pool4", "conv7"):
            a, b = getattr(ref, name), getattr(got, name)
            assert torch.allclose(a, b, atol=1e-4 * float(a.abs().max())), (size, name)
        decided = fast.conv1_nchw["shared"]
        assert decided is not None and (conv1_nchw is None or decided == conv1_nchw)
        # after a race conv1_2 ran both ways (the race), then in the winner's form
        ran = [conv for conv, _ in narrow_conv1]
        assert (bb.conv1_2 in ran) == (decided or (conv1_nchw is None and size == (40, 57)))
        assert bb.conv2_1 in ran  # the wider layers run NNPACK either way


def test_the_race_runs_on_a_corner_of_the_first_image(narrow_conv1, monkeypatch):
    """On a large first image (or batch) the two forms of conv1 race on one image's corner only."""
    from fcn_core.inference import fast_forward

    monkeypatch.setattr(fast_forward, "CONV1_RACE_SIDE", 16)
    bundle = randomize(FCNBundle(tiny_meta(("8s",), width=0.125)))
    fast = FastForward(bundle, conv1_nchw=True)
    fast.conv1_nchw["shared"] = None
    with torch.no_grad():
        fast.features("shared", torch.randn(2, 3, 60, 70))
    raced = [shape for conv, shape in narrow_conv1 if conv is bundle.backbones["shared"].conv1_2 and shape[0] == 1]
    assert len(raced) == 3 and all(shape[-2:] == (14, 14) for shape in raced)  # 16 positions less conv1_1's border


def test_confidence_survives_infinite_logits():
    scores = np.array([[0.0, 0.0], [-np.inf, np.inf], [1.0, 2.0]], np.float32)[:, None, :]
    margin, entropy = margin_and_entropy(scores)
    assert np.isfinite(margin).all() and np.isfinite(entropy).all()
    assert margin[0, 1] == pytest.approx(1.0) and entropy[0, 1] == pytest.approx(0.0, abs=1e-6)


def test_folder_buffer_is_bounded_with_many_sizes(tmp_path, tiny_bundle):
    from PIL import Image

    from fcn_core.inference.folder_predict import predict_folder

    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(1)
    paths = []
    for i in range(9):  # nine different sizes: no group ever fills a batch of 4
        p = folder / f"s{i}.png"
        Image.fromarray(rng.integers(0, 255, (40 + i, 50, 3), dtype=np.uint8)).save(p)
        paths.append(p)
    engine = Engine(tiny_bundle, "cpu")
    batches = []
    real = engine.predict_batch
    engine.predict_batch = lambda images, variants=None: batches.append(len(images)) or real(images, variants)
    report = predict_folder(engine, paths, tmp_path / "out", ["8s"], batch=4)
    assert len(report.done) == 9 and len(batches) == 9  # the ninth waiting image made the first run early
    with pytest.raises(ValueError, match="uint8"):
        engine.predict_batch([np.zeros((8, 8, 3), np.float32)])
