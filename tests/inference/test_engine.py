"""The engine: cached backbone passes, predictions, skip fusion, precision."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fcn_core import Engine, FCNBundle
from tests.helpers.models import randomize, tiny_meta


def test_variant_switch_reuses_shared_backbone(tiny_bundle, rgb_image):
    engine = Engine(tiny_bundle, "cpu")
    analysis = engine.cache_for(rgb_image)
    assert engine.backbone_passes == 0
    engine.predict(analysis, ["32s"])
    assert engine.backbone_passes == 1
    engine.predict(analysis, ["16s"])
    engine.predict(analysis, ["8s"])
    engine.fusion(analysis, "8s")
    engine.fusion(analysis, "16s")
    assert engine.backbone_passes == 1
    engine.predict(engine.cache_for(rgb_image), ["8s"])
    assert engine.backbone_passes == 2


def test_separate_backbones_run_once_each(rgb_image):
    engine = Engine(randomize(FCNBundle(tiny_meta(shared=False))), "cpu")
    analysis = engine.cache_for(rgb_image)
    engine.predict(analysis)
    assert engine.backbone_passes == 3
    for v in ("8s", "32s", "16s"):
        engine.predict(analysis, [v])
        engine.fusion(analysis, v)
    assert engine.backbone_passes == 3


def test_prediction_fields(tiny_bundle, rgb_image):
    engine = Engine(tiny_bundle, "cpu")
    pred = engine.segment(rgb_image)
    h, w = rgb_image.shape[:2]
    assert pred.variant == "8s"
    assert pred.labels.shape == (h, w) and pred.labels.dtype == np.uint8
    assert pred.scores.shape == (5, h, w) and pred.scores.dtype == np.float32
    assert np.array_equal(pred.labels, pred.scores.argmax(0))
    assert 0 <= pred.confidence.min() and pred.confidence.max() <= 1
    assert pred.entropy.min() >= -1e-6 and pred.entropy.max() <= np.log(5) + 1e-5
    assert pred.class_fractions(5).sum() == pytest.approx(1)


def test_engine_matches_plain_module_with_voc_preprocessing(tiny_bundle, rgb_image):
    engine = Engine(tiny_bundle, "cpu")
    pred = engine.segment(rgb_image, "16s")
    x = torch.from_numpy(rgb_image[:, :, ::-1].astype(np.float32).copy()).permute(2, 0, 1)[None]
    x = x - torch.tensor([104.00698793, 116.66876762, 122.67891434]).view(1, 3, 1, 1)
    with torch.no_grad():
        ref = tiny_bundle.float()(x.contiguous(), "16s")[0].numpy()
    assert np.allclose(pred.scores, ref, atol=1e-3 * np.abs(ref).max())


def test_fusion_steps_and_contributions(tiny_bundle, rgb_image):
    engine = Engine(tiny_bundle, "cpu")
    analysis = engine.cache_for(rgb_image)
    fusion = engine.fusion(analysis, "8s")
    assert set(fusion.steps) == {"score_fr", "upscore2", "score_pool4c", "fuse_pool4", "upscore_pool4",
                                 "score_pool3c", "fuse_pool3", "final"}
    assert {fusion.steps[n].stride for n in ("score_fr", "fuse_pool4", "fuse_pool3")} == {32, 16, 8}
    total = sum(fusion.contributions.values())
    final = engine.predict(analysis, ["8s"])["8s"].scores
    assert np.allclose(total, final, atol=1e-4 * np.abs(final).max())
    assert np.allclose(fusion.steps["fuse_pool4"].values,
                       fusion.steps["upscore2"].values + fusion.steps["score_pool4c"].values, atol=1e-5)
    x0, y0, w, h = fusion.steps["score_fr"].extent()
    assert x0 == pytest.approx(12.5 - 16) and w == 32 * fusion.steps["score_fr"].values.shape[-1]


def test_half_precision_agrees_with_fp32(tiny_bundle, rgb_image):
    """The CUDA path runs fp16; its labels must match fp32 (checked on the CPU here)."""
    fp32 = Engine(tiny_bundle, "cpu").segment(rgb_image).labels
    try:
        half = Engine(randomize(FCNBundle(tiny_meta())), "cpu", precision="bf16").segment(rgb_image).labels
    except RuntimeError as e:  # pragma: no cover - CPU kernels without bf16 conv
        pytest.skip(f"no reduced-precision CPU kernels: {e}")
    assert (half == fp32).mean() >= 0.95


def test_bad_inputs(tiny_bundle):
    engine = Engine(tiny_bundle, "cpu")
    with pytest.raises(ValueError, match="H×W×3 uint8"):
        engine.cache_for(np.zeros((10, 10), np.uint8))
    with pytest.raises(KeyError, match="no 4s variant"):
        engine.predict(engine.cache_for(np.zeros((10, 10, 3), np.uint8)), ["4s"])
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no usable CUDA"):
            Engine(tiny_bundle, "cuda")
