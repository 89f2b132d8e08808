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

import torch
from torch import nn

from .bundle import FCNBundle
from .normalize import normalize


class ImageToLabels(nn.Module):
    """N×H×W×3 uint8 RGB → N×H×W uint8 labels (and N×C×H×W float scores with ``scores``)."""

    def __init__(self, bundle: FCNBundle, variant: str, scores: bool = False) -> None:
        super().__init__()
        self.bundle = bundle
        self.variant = variant
        self.scores = scores

    def forward(self, images: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        x = normalize(self.bundle.meta.preprocessing, images.permute(0, 3, 1, 2))
        s = self.bundle(x, self.variant)
        labels = s.argmax(1).to(torch.uint8)
        return (labels, s) if self.scores else labels


def export_onnx(bundle: FCNBundle, variant: str, path: Path, scores: bool = False, opset: int = 17) -> Path:
    """Write ``variant`` of ``bundle`` (as an fp32 CPU copy; ``bundle`` is left as it is) as an ONNX file
    with dynamic batch, height and width; the class names and the preprocessing go into its metadata."""
    net = ImageToLabels(copy.deepcopy(bundle).float().cpu().eval(), variant, scores).eval()
    example = torch.zeros((1, 64, 64, 3), dtype=torch.uint8)
    outputs = ["labels", "scores"] if scores else ["labels"]
    axes = {"image": {0: "batch", 1: "height", 2: "width"}, "labels": {0: "batch", 1: "height", 2: "width"}}
    if scores:
        axes["scores"] = {0: "batch", 2: "height", 3: "width"}
    path = Path(path)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # the constants it names are constants
        # the TorchScript exporter (deprecated, still shipped): the torch.export one needs onnxscript and
        # minutes for this net, and gives the same graph here
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, (example,), str(path), input_names=["image"], output_names=outputs,
                          dynamic_axes=axes, opset_version=opset, dynamo=False)
    _add_metadata(path, bundle, variant)
    return path


def _add_metadata(path: Path, bundle: FCNBundle, variant: str) -> None:
    """Class names, variant and preprocessing in ``metadata_props`` (when the onnx package is there)."""
    try:
        import onnx
    except ImportError:  # the graph is complete without them
        return
    model = onnx.load(str(path))
    pre = bundle.meta.preprocessing
    props = {"fcn_workbench.variant": variant, "fcn_workbench.class_names": json.dumps(list(bundle.meta.classes)),
             "fcn_workbench.preprocessing": json.dumps({"channel_order": pre.channel_order, "mean": list(pre.mean),
                                                        "std": list(pre.std), "value_range": pre.value_range,
                                                        "inside_graph": True})}
    onnx.helper.set_model_props(model, props)
    onnx.save(model, str(path))
