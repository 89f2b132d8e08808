"""What travels with a model's weights: classes, colours, preprocessing, variants and provenance (no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .palette import VOC_CLASSES, voc_colormap
from .preprocessing import Preprocessing
from .provenance import Provenance

VARIANTS: tuple[str, ...] = ("32s", "16s", "8s")  # coarsest to finest: the order of every listing


@dataclass(frozen=True)
class VariantSpec:
    """One head of a bundle: which variant, whether "at-once", and which backbone it reads."""

    name: str
    backbone: str = "shared"
    at_once: bool = False

    def __post_init__(self) -> None:
        if self.name not in VARIANTS:
            raise ValueError(f"unknown variant {self.name!r}; expected one of {', '.join(VARIANTS)}")

    @property
    def label(self) -> str:
        return f"FCN-{self.name}" + (" at-once" if self.at_once else "")


@dataclass(frozen=True)
class ModelMeta:
    """Everything the app needs to know about a model besides its weights."""

    classes: tuple[str, ...]
    colors: tuple[tuple[int, int, int], ...]
    preprocessing: Preprocessing
    variants: tuple[VariantSpec, ...]
    width: float = 1.0
    source: str = ""
    provenance: Provenance = field(default_factory=Provenance)

    def __post_init__(self) -> None:
        if len(self.classes) < 1 or len(self.classes) > 255:
            raise ValueError(f"a model needs 1 to 255 classes, not {len(self.classes)}")
        if len(self.colors) != len(self.classes):
            raise ValueError(f"the palette has {len(self.colors)} colours for {len(self.classes)} classes")
        names = [v.name for v in self.variants]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"a bundle needs one to three distinct variants, not {names}")

    @property
    def n_class(self) -> int:
        return len(self.classes)

    @property
    def variant_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variants)

    def variant(self, name: str) -> VariantSpec:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(f"this model has no {name} variant (it has {', '.join(self.variant_names)})")

    def palette(self) -> np.ndarray:
        """n_class×3 uint8 colours."""
        return np.asarray(self.colors, dtype=np.uint8).reshape(-1, 3)

    def with_provenance(self, **changes: Any) -> "ModelMeta":
        """A copy whose provenance has these fields changed (see :class:`Provenance`)."""
        return replace(self, provenance=self.provenance.with_changes(**changes))

    def to_dict(self) -> dict:
        return {
            "classes": list(self.classes),
            "colors": [list(c) for c in self.colors],
            "preprocessing": self.preprocessing.to_dict(),
            "variants": [{"name": v.name, "backbone": v.backbone, "at_once": v.at_once} for v in self.variants],
            "width": self.width,
            "source": self.source,
            "provenance": self.provenance.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ModelMeta":
        """The metadata :meth:`to_dict` wrote; anything else (a crafted file's wrong types, colours outside
        0–255, a width out of range) is a :class:`ValueError` naming the field."""
        if not isinstance(d, dict):
            raise ValueError("the metadata is not a mapping")
        classes, colors, variants = d["classes"], d["colors"], d["variants"]
        if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
            raise ValueError("classes must be a list of names")
        if not isinstance(colors, list) or not all(
                isinstance(c, list) and len(c) == 3 and all(type(x) is int and 0 <= x <= 255 for x in c)
                for c in colors):
            raise ValueError("colors must be a list of three 0–255 integers each")
        if not isinstance(variants, list) or not all(
                isinstance(v, dict) and isinstance(v.get("name"), str) and isinstance(v.get("backbone", ""), str)
                and isinstance(v.get("at_once", False), bool) for v in variants):
            raise ValueError("variants must be a list of {name, backbone, at_once}")
        width, source = d.get("width", 1.0), d.get("source", "")
        if type(width) not in (int, float) or not 0 < width <= 1:
            raise ValueError(f"width must be a number in (0, 1], not {str(width)[:40]}")
        if not isinstance(source, str):
            raise ValueError("source must be text")
        preprocessing = d["preprocessing"]
        if not isinstance(preprocessing, dict):
            raise ValueError("preprocessing must be a mapping")
        return cls(
            classes=tuple(classes),
            colors=tuple((c[0], c[1], c[2]) for c in colors),
            preprocessing=Preprocessing.from_dict(preprocessing),
            variants=tuple(VariantSpec(v["name"], v.get("backbone", "shared"), v.get("at_once", False))
                           for v in variants),
            width=float(width),
            source=source,
            provenance=Provenance.from_dict(d.get("provenance", {})),
        )

    def describe(self) -> str:
        backbones = sorted({v.backbone for v in self.variants})
        lines = [
            f"variants: {', '.join(v.label for v in self.variants)}",
            f"backbones: {len(backbones)} ({'shared by all heads' if len(backbones) == 1 and len(self.variants) > 1 else ', '.join(backbones)})",
            f"width: {self.width:g}",
            f"classes ({self.n_class}): {', '.join(self.classes)}",
            f"preprocessing: {self.preprocessing.describe()}",
        ]
        if self.source:
            lines.append(f"source: {self.source}")
        return "\n".join(lines + self.provenance.describe())


def voc_meta(variants: tuple[VariantSpec, ...], width: float = 1.0, source: str = "") -> ModelMeta:
    """Metadata of a PASCAL VOC net: 21 classes, VOC colours, VOC preprocessing."""
    cmap = voc_colormap(len(VOC_CLASSES))
    return ModelMeta(VOC_CLASSES, tuple(tuple(int(x) for x in c) for c in cmap), Preprocessing.voc(),
                     variants, width, source)


def class_meta(n_class: int) -> tuple[tuple[str, ...], tuple[tuple[int, int, int], ...]]:
    """Class names and colours for a net that does not name its classes: VOC's for 21, numbered otherwise."""
    names = VOC_CLASSES if n_class == len(VOC_CLASSES) else tuple(f"class {i}" for i in range(n_class))
    return names, tuple(tuple(int(x) for x in c) for c in voc_colormap(n_class))
