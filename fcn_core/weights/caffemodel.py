"""Read (and, for tests and conversion, write) the authors' Caffe .caffemodel files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from google.protobuf.message import DecodeError

from .caffe_proto import caffe_messages
from ..storage.regular_files import NotARegularFile, read_regular
from .errors import WeightsError
from .state_dicts import MAX_WEIGHTS_BYTES

# Layers whose blobs the FCN needs; anything else (data, loss, crop, eltwise) has no weights.
_PARAM_PREFIXES = ("conv", "fc6", "fc7", "score", "upscore")


def _layer_name(name: object, source: str) -> str:
    """A layer's name as text (a crafted file can hold bytes that are not UTF-8 there)."""
    if isinstance(name, bytes):
        try:
            name = name.decode("utf-8")
        except UnicodeDecodeError:
            raise WeightsError(f"{source} is not a Caffe model this app reads: a layer name is not UTF-8 text") from None
    if not isinstance(name, str):
        raise WeightsError(f"{source} is not a Caffe model this app reads: a layer has no name")
    return name


def _blob_array(blob, where: str) -> np.ndarray:
    if len(blob.shape.dim):
        shape = tuple(int(d) for d in blob.shape.dim)
    else:
        shape = tuple(int(d) for d in (blob.num, blob.channels, blob.height, blob.width))
    n_values = len(blob.data) or len(blob.double_data)
    if any(d < 0 for d in shape) or math.prod(shape) != n_values:  # checked before numpy allocates anything
        raise WeightsError(f"{where}: the blob holds {n_values} values but its shape says {shape}")
    data = np.asarray(blob.data if len(blob.data) else blob.double_data, dtype=np.float32)
    if not np.isfinite(data).all():
        raise WeightsError(f"{where}: the blob holds values that are not finite (NaN or infinity)")
    if int(np.prod(shape)) != data.size:
        raise WeightsError(f"{where}: the blob holds {data.size} values but its shape says {shape}")
    return data.reshape(shape)


def read_caffemodel(path: str | Path) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The parameters of a .caffemodel in torchfcn naming, and the names of all its layers."""
    path = Path(path)
    net = caffe_messages()["NetParameter"]()
    try:
        data = read_regular(path, MAX_WEIGHTS_BYTES, "weights file")
    except NotARegularFile as e:
        raise WeightsError(str(e)) from None
    try:
        net.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError, TypeError, RecursionError):
        raise WeightsError(f"{path.name} is neither a PyTorch checkpoint nor a Caffe model (it does not parse as either)") from None
    layers = list(net.layer) or list(net.layers)
    if not layers:
        raise WeightsError(f"{path.name} is not a Caffe model: it holds no layers")
    names = [_layer_name(layer.name, path.name) for layer in layers]
    state: dict[str, torch.Tensor] = {}
    for name, layer in zip(names, layers):
        if not layer.blobs or not name.startswith(_PARAM_PREFIXES):
            continue
        arrays = [_blob_array(b, f"{path.name}, layer {name}") for b in layer.blobs]
        weight = arrays[0]
        if weight.ndim == 2:  # an fc layer stored as InnerProduct: N×K
            weight = weight[:, :, None, None]
        state[f"{name}.weight"] = torch.from_numpy(np.ascontiguousarray(weight))
        if len(arrays) > 1 and not name.startswith("upscore"):
            state[f"{name}.bias"] = torch.from_numpy(arrays[1].reshape(-1).copy())
    if not state:
        raise WeightsError(f"{path.name} is a Caffe model but holds no FCN layers (conv1_1 … score_fr)")
    return state, names


def write_caffemodel(path: str | Path, state: dict[str, torch.Tensor], name: str = "fcn") -> None:
    """Write a torchfcn-named state dict as a V2 .caffemodel (weights first, bias second)."""
    msgs = caffe_messages()
    net = msgs["NetParameter"](name=name)
    layer_names = list(dict.fromkeys(k.rsplit(".", 1)[0] for k in state))
    for lname in layer_names:
        layer = net.layer.add(name=lname, type="Deconvolution" if lname.startswith("upscore") else "Convolution")
        for kind in ("weight", "bias"):
            t = state.get(f"{lname}.{kind}")
            if t is None:
                continue
            blob = layer.blobs.add()
            blob.shape.dim.extend(int(d) for d in t.shape)
            blob.data.extend(t.detach().float().reshape(-1).tolist())
    Path(path).write_bytes(net.SerializeToString())
