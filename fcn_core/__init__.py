"""FCN Workbench core: the paper's VGG16 FCNs, inference, weights, data, storage and training (no Qt).

The packages are the layers: ``model`` (layers, bundles, metadata), ``weights`` (every format),
``inference`` (the engine), ``labels`` (the label document, paint tools), ``storage`` (files, the
workspace, export), ``data`` (scenes, datasets), ``training``, ``bench`` and ``cli``. The names below are
imported on first use (PEP 562), so ``import fcn_core`` and the torch-free layers load no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_names

# public name → the module that defines it
_HOMES: dict[str, str] = {
    "DEMO_MODEL": "paths", "SAMPLES": "paths", "RESOURCES": "paths",
    "one_line": "messages",
    "VARIANTS": "model.metadata", "ModelMeta": "model.metadata", "VariantSpec": "model.metadata", "voc_meta": "model.metadata",
    "Origin": "model.provenance", "Provenance": "model.provenance",
    "Preprocessing": "model.preprocessing",
    "VOID": "model.palette", "full_palette": "model.palette", "voc_colormap": "model.palette",
    "BackboneFeatures": "model.architecture", "FCNHead": "model.architecture", "VGG16Backbone": "model.architecture",
    "bilinear_kernel": "model.architecture",
    "FCNBundle": "model.bundle",
    "WeightsError": "weights", "describe_weights": "weights", "load_bundle": "weights", "load_checkpoint": "weights",
    "save_checkpoint": "weights",
    "Engine": "inference.engine", "ImageCache": "inference.engine",
    "Prediction": "inference.results", "ScoreMap": "inference.results", "SkipFusion": "inference.results",
    "DEVICE_CHOICES": "inference.device_choices",
    "tune_process": "inference.device",
    "LabelDocument": "labels.document", "class_fractions": "labels.class_shares",
    "ClassMismatch": "labels.class_mapping", "map_labels": "labels.class_mapping",
    "ImageReadError": "storage.image_io", "expand_image_paths": "storage.image_io", "is_image_path": "storage.image_io",
    "read_image": "storage.image_io", "read_label_png": "storage.image_io", "write_label_png": "storage.image_io",
    "read_thumbnail": "storage.image_io",
    "Workspace": "storage.workspace", "SavedLabels": "storage.workspace",
    "export_dataset": "storage.export", "corrected_images": "storage.export", "DATASET_ENTRIES": "storage.export", "export_owns": "storage.export", "export_said": "storage.export",
    "EXPORT_FORMATS": "storage.export", "import_labels": "storage.label_import",
    "IMPORT_KINDS": "storage.annotation_readers",
    "probe_image": "storage.image_io",
    "make_scene": "data.scenes",
    "FINETUNE_ITERATIONS": "training.config", "FINETUNE_LR": "training.config",
    "Uncertainty": "inference.uncertainty", "UNCERTAINTY_MEASURES": "inference.uncertainty",
    "uncertainty_of": "inference.uncertainty", "most_uncertain": "inference.uncertainty",
    "LabelChanges": "labels.label_changes", "label_changes": "labels.label_changes",
}

__all__ = sorted(_HOMES)


__getattr__, __dir__ = lazy_names(__name__, _HOMES)


if TYPE_CHECKING:  # what type checkers and editors see
    from .data.scenes import make_scene
    from .training.config import FINETUNE_ITERATIONS, FINETUNE_LR
    from .inference.uncertainty import UNCERTAINTY_MEASURES, Uncertainty, most_uncertain, uncertainty_of
    from .inference.device import tune_process
    from .inference.device_choices import DEVICE_CHOICES
    from .inference.engine import Engine, ImageCache
    from .inference.results import Prediction, ScoreMap, SkipFusion
    from .labels.class_mapping import ClassMismatch, map_labels
    from .labels.class_shares import class_fractions
    from .labels.document import LabelDocument
    from .labels.label_changes import LabelChanges, label_changes
    from .messages import one_line
    from .model.architecture import BackboneFeatures, FCNHead, VGG16Backbone, bilinear_kernel
    from .model.bundle import FCNBundle
    from .model.metadata import VARIANTS, ModelMeta, VariantSpec, voc_meta
    from .model.palette import VOID, full_palette, voc_colormap
    from .model.preprocessing import Preprocessing
    from .model.provenance import Origin, Provenance
    from .paths import DEMO_MODEL, RESOURCES, SAMPLES
    from .storage.annotation_readers import IMPORT_KINDS
    from .storage.export import DATASET_ENTRIES, EXPORT_FORMATS, corrected_images, export_dataset, export_owns, export_said
    from .storage.label_import import import_labels
    from .storage.image_io import (ImageReadError, expand_image_paths, is_image_path, probe_image, read_image,
                                   read_label_png, read_thumbnail,
                                   write_label_png)
    from .storage.workspace import SavedLabels, Workspace
    from .weights import WeightsError, describe_weights, load_bundle, load_checkpoint, save_checkpoint
