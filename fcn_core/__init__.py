"""FCN Workbench core: the paper's VGG16 FCNs, inference, weights, data and training (no Qt)."""

from .architecture import VARIANTS, BackboneFeatures, FCNHead, VGG16Backbone, bilinear_kernel
from .bundle import FCNBundle
from .engine import Analysis, Engine
from .label_document import LabelDocument
from .workspace import Workspace
from .image_io import ImageReadError, expand_image_paths, is_image_path, read_image, read_label_png, write_label_png
from .metadata import ModelMeta, VariantSpec, voc_meta
from .paths import DEMO_MODEL, SAMPLES
from .preprocessing import Preprocessing
from .results import Prediction, ScoreMap, SkipFusion
from .weights import WeightsError, describe_weights, load_bundle, load_checkpoint, save_checkpoint

__all__ = [
    "LabelDocument", "Workspace", "DEMO_MODEL", "SAMPLES", "VARIANTS", "Analysis", "BackboneFeatures", "Engine", "FCNBundle", "FCNHead", "ImageReadError", "ModelMeta",
    "Prediction", "Preprocessing", "ScoreMap", "SkipFusion", "VGG16Backbone", "VariantSpec", "WeightsError",
    "bilinear_kernel", "describe_weights", "expand_image_paths", "is_image_path", "load_bundle", "load_checkpoint", "read_image", "read_label_png",
    "save_checkpoint", "voc_meta", "write_label_png",
]
