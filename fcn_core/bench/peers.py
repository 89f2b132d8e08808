"""The runtimes a user would pick instead of the engine: onnxruntime and OpenVINO on the same net.

Each peer runs the reference net exported to ONNX (:mod:`fcn_core.model.onnx_graph`: uint8 image in,
labels out, the preprocessing and argmax inside the graph) with the same thread count as torch. A peer
whose package is not installed is reported as missing, with the command that installs it.
"""

from __future__ import annotations

import importlib.util
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..model.bundle import FCNBundle
from ..model.onnx_graph import export_onnx

INSTALL_HINT = "pip install -e '.[peers]'"
PEER_PACKAGES = {"onnxruntime": "onnxruntime", "openvino": "openvino"}


@dataclass
class Peer:
    """A runtime with the net loaded: ``labels(image)`` is uint8 H×W×3 → uint8 H×W labels."""

    name: str
    version: str
    labels: Callable[[np.ndarray], np.ndarray]


def missing_peers() -> list[str]:
    """The peers whose package is not importable."""
    return [name for name, module in PEER_PACKAGES.items() if importlib.util.find_spec(module) is None]


def onnxruntime_peer(path: Path, threads: int) -> Peer:
    """onnxruntime's CPU session on the ONNX file."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return Peer("onnxruntime", ort.__version__, lambda image: session.run(None, {"image": image[None]})[0][0])


def openvino_peer(path: Path, threads: int) -> Peer:
    """OpenVINO's CPU plugin on the ONNX file (fp32, latency mode)."""
    import openvino as ov

    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                          "INFERENCE_PRECISION_HINT": "f32",
                                                          "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()

    def labels(image: np.ndarray) -> np.ndarray:
        return request.infer([image[None]])[0][0].copy()

    return Peer("openvino", ov.get_version(), labels)


PEER_MAKERS = {"onnxruntime": onnxruntime_peer, "openvino": openvino_peer}  # the ONNX file → a loaded Peer


def load_peers(bundle: FCNBundle, variant: str, threads: int | None = None,
               folder: Path | None = None) -> tuple[list[Peer], list[str]]:
    """The installed peers running ``variant`` of ``bundle`` (fp32, CPU), and a note per missing one."""
    threads = threads or torch.get_num_threads()
    notes = [f"{name} is not installed: skipped ({INSTALL_HINT})" for name in missing_peers()]
    wanted = [n for n in PEER_PACKAGES if n not in missing_peers()]
    if not wanted:
        return [], notes
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        path = export_onnx(bundle, variant, Path(tmp) / "fcn.onnx")
        # both runtimes read the file completely while loading it: the temporary folder can go
        return [PEER_MAKERS[name](path, threads) for name in wanted], notes
