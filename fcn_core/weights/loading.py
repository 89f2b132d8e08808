"""One entry point for every weights format: detect it, check it, build the bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from ..model.bundle import FCNBundle
from ..model.metadata import VARIANTS, ModelMeta, VariantSpec, class_meta
from ..model.preprocessing import Preprocessing
from ..storage.regular_files import NotARegularFile, open_regular
from .caffemodel import read_caffemodel
from .errors import WeightsError
from .native import bundle_from_native, is_native
from .public_nets import PublicNet, public_net
from .state_dicts import MAX_WEIGHTS_BYTES, fit_state_dict, safe_torch_load
from .vgg16 import is_torchvision_vgg16

_TORCH_MAGIC = (b"PK\x03\x04", b"\x80")


def read_weights_file(path: str | Path, at_once: bool = False) -> FCNBundle | PublicNet | dict:
    """Detect and read one file: a native bundle, a public net, or a torchvision VGG16 state dict."""
    path = Path(path)
    try:
        with open_regular(path, MAX_WEIGHTS_BYTES, "weights file") as f:
            head = f.read(4)
    except NotARegularFile as e:
        raise WeightsError(str(e)) from None
    if not head:
        raise WeightsError(f"{path.name} is empty")
    if head.startswith(_TORCH_MAGIC):
        obj = safe_torch_load(path, path.name)
        if is_native(obj):
            return bundle_from_native(obj, path.name)
        if is_torchvision_vgg16(obj):
            return obj
        if isinstance(obj, dict) and "conv1_1.weight" in obj:
            return public_net(obj, path.name, "torchfcn state dict", at_once)
        if isinstance(obj, dict) and any(k.startswith(("model.", "module.")) for k in obj):
            raise WeightsError(f"{path.name} holds a wrapped state dict (keys start with 'model.' or 'module.'); save the bare state dict")
        raise WeightsError(f"{path.name} is a PyTorch file but neither an FCN Workbench checkpoint, a torchfcn FCN nor a torchvision VGG16")
    if path.suffix.lower() in (".pt", ".pth"):  # named as PyTorch but not a PyTorch file: say so, not "not Caffe"
        raise WeightsError(f"{path.name} is not a PyTorch checkpoint (a .pt/.pth file is a zip archive; this one is "
                           "damaged or something else)")
    state, layer_names = read_caffemodel(path)
    at_once = at_once or "scale_pool4" in layer_names
    return public_net(state, path.name, "Caffe caffemodel", at_once)


def bundle_from_public_nets(nets: Sequence[PublicNet]) -> FCNBundle:
    """Separately trained public nets (one to three) as one bundle, each with its own backbone."""
    variants = [n.variant for n in nets]
    if len(set(variants)) != len(variants):
        raise WeightsError(f"two files are the same variant ({', '.join(n.source for n in nets)}); give at most one each of 32s, 16s, 8s")
    if len({n.n_class for n in nets}) != 1:
        raise WeightsError("the files disagree on the class count: " + ", ".join(f"{n.source}: {n.n_class}" for n in nets))
    if len({n.width for n in nets}) != 1:
        raise WeightsError("the files are nets of different widths: " + ", ".join(f"{n.source}: {n.width:g}" for n in nets))
    nets = sorted(nets, key=lambda n: VARIANTS.index(n.variant))
    specs = tuple(VariantSpec(n.variant, f"fcn{n.variant}", n.at_once) for n in nets)
    names, colors = class_meta(nets[0].n_class)
    source = ", ".join(f"{n.source} ({n.format})" for n in nets)
    meta = ModelMeta(names, colors, Preprocessing.voc(), specs, nets[0].width, source)  # the authors' preprocessing
    bundle = FCNBundle(meta)
    for net, spec in zip(nets, specs):
        view = nn.Module()  # the backbone's and the head's layers side by side, as torchfcn names them
        for name, layer in [*bundle.backbones[spec.backbone].named_children(), *bundle.heads[spec.name].named_children()]:
            view.add_module(name, layer)
        fit_state_dict(view, net.state, net.source)
    return bundle.eval()


def load_bundle(paths: Sequence[str | Path], at_once: bool = False) -> FCNBundle:
    """Load one native checkpoint, or one to three public nets (torchfcn .pth or .caffemodel)."""
    if not paths:
        raise WeightsError("no weights file was given")
    items = [read_weights_file(p, at_once) for p in paths]
    natives = [i for i in items if isinstance(i, FCNBundle)]
    if natives:
        if len(items) > 1:
            raise WeightsError("an FCN Workbench checkpoint is a whole bundle; load it alone")
        return natives[0]
    if any(isinstance(i, dict) for i in items):
        raise WeightsError("a torchvision VGG16 is an ImageNet classifier without FCN heads; use it to initialise training (train --init)")
    return bundle_from_public_nets(items)  # type: ignore[arg-type]


def describe_weights(paths: Sequence[str | Path], at_once: bool = False) -> str:
    """What each file is and what the bundle they form holds (for ``fcn-workbench info``)."""
    lines = []
    for p in paths:
        item = read_weights_file(p, at_once)
        name = Path(p).name
        if isinstance(item, FCNBundle):
            lines.append(f"{name}: FCN Workbench checkpoint")
        elif isinstance(item, PublicNet):
            lines.append(f"{name}: {item.format}, FCN-{item.variant}{' at-once' if item.at_once else ''}, "
                         f"{item.n_class} classes, width {item.width:g}")
        else:
            n = sum(t.numel() for t in item.values() if isinstance(t, torch.Tensor))
            lines.append(f"{name}: torchvision VGG16 ImageNet classifier ({n / 1e6:.1f} M parameters); initialises a new FCN for training")
            return "\n".join(lines)
    bundle = load_bundle(paths, at_once)
    params = sum(p.numel() for p in bundle.parameters())
    lines.append(f"parameters: {params / 1e6:.2f} M")
    lines.append(bundle.meta.describe())
    return "\n".join(lines)

