"""Reading and writing FCN weights in every format people have; callers use this package's names only."""

from .caffemodel import read_caffemodel, write_caffemodel
from .errors import WeightsError
from .loading import bundle_from_public_nets, describe_weights, load_bundle, read_weights_file
from .native import load_checkpoint, save_checkpoint
from .public_nets import PublicNet, public_state_dict
from .vgg16 import load_vgg16_into, vgg16_to_backbone_state

__all__ = [
    "PublicNet", "WeightsError", "public_state_dict", "bundle_from_public_nets", "describe_weights", "load_bundle",
    "load_checkpoint", "load_vgg16_into", "read_caffemodel", "read_weights_file", "save_checkpoint",
    "vgg16_to_backbone_state", "write_caffemodel",
]
