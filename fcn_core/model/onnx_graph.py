"""The FCN as an ONNX graph: uint8 RGB image in, labels (and optionally scores) out.

The graph is the plain net (the reference path, layer for layer), with the preprocessing and the
argmax inside, so any ONNX runtime gives the same answer from the same pixels. Height and width are
dynamic. Exporting needs only torch; running the file needs an ONNX runtime (the ``peers`` extra).
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from .bundle import FCNBundle
from .normalize import normalize


class ImageToLabels(nn.Module):
    """N×H×W×3 uint8 RGB → N×H×W uint8 labels per variant (and N×C×H×W float scores with ``scores``);
    variants sharing a backbone share its pass."""

    def __init__(self, bundle: FCNBundle, variants: Sequence[str], scores: bool = False) -> None:
        super().__init__()
        self.bundle = bundle
        self.variants = list(variants)
        self.scores = scores

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = normalize(self.bundle.meta.preprocessing, images.permute(0, 3, 1, 2))
        out: list[torch.Tensor] = []
        for v, f in self.bundle.with_features(self.variants, lambda b: self.bundle.features(b, x)):
            s = self.bundle.heads[v](f)
            out.append(s.argmax(1).to(torch.uint8))
            if self.scores:
                out.append(s)
        return tuple(out)


def output_names(variants: Sequence[str], scores: bool) -> list[str]:
    """``labels`` (and ``scores``) for one variant; ``labels_<v>`` (and ``scores_<v>``) for several."""
    names = []
    for v in variants:
        suffix = "" if len(variants) == 1 else f"_{v}"
        names += [f"labels{suffix}"] + ([f"scores{suffix}"] if scores else [])
    return names


def export_onnx(bundle: FCNBundle, variants: str | Sequence[str], path: Path, scores: bool = False,
                opset: int = 17) -> Path:
    """Write ``variants`` of ``bundle`` (as an fp32 CPU copy; ``bundle`` is left as it is) as an ONNX file
    with dynamic batch, height and width; the class names and the preprocessing go into its metadata.
    One variant gives the outputs ``labels`` (and ``scores``), several ``labels_<v>`` (and ``scores_<v>``)."""
    variants = [variants] if isinstance(variants, str) else list(variants)
    for v in variants:
        bundle.meta.variant(v)  # KeyError naming the variants the weights have
    net = ImageToLabels(copy.deepcopy(bundle).float().cpu().eval(), variants, scores).eval()
    example = torch.zeros((1, 64, 64, 3), dtype=torch.uint8)
    outputs = output_names(variants, scores)
    axes = {"image": {0: "batch", 1: "height", 2: "width"}}
    for name in outputs:
        axes[name] = {0: "batch", 1: "height", 2: "width"} if name.startswith("labels") else \
            {0: "batch", 2: "height", 3: "width"}
    path = Path(path)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the constants it names are constants
        # the TorchScript exporter (deprecated, still shipped): the torch.export one needs onnxscript and
        # minutes for this net, and gives the same graph here
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, (example,), str(path), input_names=["image"], output_names=outputs,
                          dynamic_axes=axes, opset_version=opset, dynamo=False)
    _add_metadata(path, bundle, variants)
    return path


def _add_metadata(path: Path, bundle: FCNBundle, variants: Sequence[str]) -> None:
    """Class names, variant and preprocessing in ``metadata_props`` (when the onnx package is there)."""
    try:
        import onnx
    except ImportError:  # the graph is complete without them
        return
    model = onnx.load(str(path))
    pre = bundle.meta.preprocessing
    props = {"fcn_workbench.variants": json.dumps(list(variants)), "fcn_workbench.class_names": json.dumps(list(bundle.meta.classes)),
             "fcn_workbench.preprocessing": json.dumps({"channel_order": pre.channel_order, "mean": list(pre.mean),
                                                        "std": list(pre.std), "value_range": pre.value_range,
                                                        "inside_graph": True})}
    onnx.helper.set_model_props(model, props)
    onnx.save(model, str(path))
