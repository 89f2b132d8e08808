"""The inference engine: runs a bundle on images and caches what it computed.

An :class:`Analysis` is one image's cache. Each distinct backbone runs at most once per analysis;
switching variant or asking for score maps reuses the cached features.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import torch

from .architecture import STEP_STRIDE, BackboneFeatures
from .bundle import FCNBundle
from .device import inference_dtype, resolve_device
from .metadata import ModelMeta
from .results import Prediction, ScoreMap, SkipFusion


@dataclass(eq=False)
class Analysis:
    """The cache of one image: backbone features and per-variant results."""

    image: np.ndarray  # H×W×3 uint8 RGB
    features: dict[str, BackboneFeatures] = field(default_factory=dict)
    predictions: dict[str, Prediction] = field(default_factory=dict)
    fusions: dict[str, SkipFusion] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        return int(self.image.shape[0]), int(self.image.shape[1])

    def release_features(self) -> None:
        """Free the backbone features (device memory); predictions stay."""
        self.features.clear()


def summarize_scores(scores: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, softmax margin and entropy from C×H×W scores."""
    scores = scores.float()
    prob = torch.softmax(scores, dim=0)
    top2 = prob.topk(min(2, prob.shape[0]), dim=0).values
    margin = top2[0] - top2[1] if top2.shape[0] > 1 else top2[0]
    entropy = -(prob * torch.log(prob.clamp_min(1e-12))).sum(0)
    labels = scores.argmax(0).to(torch.uint8)
    return labels.cpu().numpy(), margin.cpu().numpy(), entropy.cpu().numpy()


class Engine:
    """Runs an :class:`FCNBundle` on RGB uint8 images, on the CPU (fp32) or CUDA (fp16, channels_last)."""

    def __init__(self, bundle: FCNBundle, device: str = "auto", precision: str = "auto") -> None:
        self.device = resolve_device(device)
        self.dtype = {"auto": inference_dtype(self.device), "fp32": torch.float32, "fp16": torch.float16,
                      "bf16": torch.bfloat16}[precision]
        self.bundle = bundle.eval().to(self.device, dtype=self.dtype, memory_format=torch.channels_last)
        self.backbone_passes = 0
        self._lock = threading.RLock()

    @property
    def meta(self) -> ModelMeta:
        return self.bundle.meta

    @property
    def variants(self) -> tuple[str, ...]:
        return self.meta.variant_names

    def analyze(self, image: np.ndarray) -> Analysis:
        """Start an analysis of an H×W×3 uint8 RGB image (nothing runs yet)."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an H×W×3 uint8 RGB image, got {image.dtype} {image.shape}")
        return Analysis(np.ascontiguousarray(image))

    def _features(self, analysis: Analysis, variant: str) -> BackboneFeatures:
        backbone = self.bundle.backbone_of(variant)
        if backbone not in analysis.features:
            x = self.meta.preprocessing.to_tensor(analysis.image, self.device, self.dtype)
            x = x.contiguous(memory_format=torch.channels_last)
            analysis.features[backbone] = self.bundle.features(backbone, x)
            self.backbone_passes += 1
        return analysis.features[backbone]

    def predict(self, analysis: Analysis, variant: str) -> Prediction:
        """Labels, confidence and scores of one variant (cached per analysis)."""
        self.meta.variant(variant)
        with self._lock, torch.inference_mode():
            if variant not in analysis.predictions:
                scores = self.bundle.heads[variant](self._features(analysis, variant))[0]
                labels, margin, entropy = summarize_scores(scores)
                analysis.predictions[variant] = Prediction(
                    variant, labels, margin, entropy, scores.float().cpu().numpy())
            return analysis.predictions[variant]

    def predict_all(self, analysis: Analysis) -> dict[str, Prediction]:
        """Every variant of the bundle, each backbone run once."""
        return {v: self.predict(analysis, v) for v in self.variants}

    def fusion(self, analysis: Analysis, variant: str) -> SkipFusion:
        """The skip-fusion steps and per-source contributions of one variant (cached)."""
        self.meta.variant(variant)
        with self._lock, torch.inference_mode():
            if variant not in analysis.fusions:
                head = self.bundle.heads[variant]
                feats = self._features(analysis, variant)
                steps = {name: ScoreMap(name, STEP_STRIDE[name], t[0].float().cpu().numpy())
                         for name, t in head.fusion(feats).items()}
                contrib = {name: t[0].float().cpu().numpy() for name, t in head.contributions(feats).items()}
                analysis.fusions[variant] = SkipFusion(variant, steps, contrib)
            return analysis.fusions[variant]

    def segment(self, image: np.ndarray, variant: str | None = None) -> Prediction:
        """One-shot prediction of one variant (default: the finest)."""
        return self.predict(self.analyze(image), variant or self.variants[-1])
