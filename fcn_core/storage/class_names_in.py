"""Class names, indices and colours from other tools, resolved to the model's classes (by name, or as a
mapping file says), with every unknown one collected so that an import can name them all in one sentence."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..labels.class_mapping import class_key
from ..model.palette import VOID, full_palette
from .json_input import parse_json
from .regular_files import read_regular

MAX_MAPPING_BYTES = 1 << 20
VOID_NAMES = ("void", "__ignore__", "ignore")  # a mapping (or a labelme file) sending a class to void
BACKGROUND_NAMES = ("_background_",)  # labelme's name for class 0
_COLOUR = re.compile(r"^#([0-9a-fA-F]{6})$")
_SHOWN = 8


def read_mapping(path: str | Path) -> dict[str, str | None]:
    """A mapping file: a JSON object from the names (or index masks' values, or ``#rrggbb`` colours) other
    tools use to this model's class names; ``"void"`` or null sends one to void (255)."""
    where = str(path)
    data = parse_json(read_regular(path, MAX_MAPPING_BYTES, "class mapping"), where)
    if not isinstance(data, dict) or not all(isinstance(v, str) or v is None for v in data.values()):
        raise ValueError(f"{where} is not a class mapping: it must be one JSON object from names to this model's "
                         'class names (or "void"), like {"kitty": "cat", "blur": "void"}')
    return {str(k): v for k, v in data.items()}


def colour_key(rgb) -> str:
    """``(192, 128, 0)`` → ``#c08000``."""
    return "#" + "".join(f"{int(v):02x}" for v in rgb)


class ClassResolver:
    """Source class names → the model's class indices; unknown names are remembered, not raised, so an import
    can list every one of them once it has read all its files."""

    def __init__(self, classes: tuple[str, ...], mapping: dict[str, str | None] | None = None):
        self.classes = tuple(classes)
        self._index: dict[str, int] = {}
        for i, name in enumerate(self.classes):
            self._index.setdefault(class_key(name), i)
        self._mapping = {class_key(k): v for k, v in (mapping or {}).items()}
        bad = sorted({v for v in self._mapping.values() if v is not None and self._model_index(v) is None})
        if bad:
            raise ValueError(f"the class mapping sends names to {', '.join(repr(b) for b in bad)}, which this model's "
                             f"classes lack ({self._shown(self.classes)})")
        self.unknown: dict[str, str] = {}  # unknown name → the first file that used it

    def _model_index(self, name: str) -> int | None:
        key = class_key(name)
        if key in VOID_NAMES:
            return VOID
        if key in BACKGROUND_NAMES:
            return 0
        return self._index.get(key)

    def index(self, name: str, where: str) -> int:
        """The model's index for ``name`` (VOID for void); an unknown name is noted and gets VOID meanwhile."""
        key = class_key(name)
        if key in self._mapping:
            target = self._mapping[key]
            return VOID if target is None else int(self._model_index(target))
        found = self._model_index(name)
        if found is None:
            self.unknown.setdefault(name, where)
            return VOID
        return found

    def mapped(self, key: str) -> int | None:
        """What the mapping file says of ``key`` (an index or colour), or None when it says nothing."""
        key = class_key(key)
        if key not in self._mapping:
            return None
        target = self._mapping[key]
        return VOID if target is None else int(self._model_index(target))

    def lookup_table(self, names: tuple[str, ...], where: str, used: np.ndarray) -> np.ndarray:
        """A 256-entry table from indices into ``names`` to the model's indices, for the values in ``used``."""
        lut = np.full(256, VOID, np.uint8)
        for v in used.tolist():
            if v == VOID:
                continue
            if v < len(names):
                lut[v] = self.index(names[v], where)
            else:
                lut[v] = self.value(v, where)
        return lut

    def value(self, v: int, where: str) -> int:
        """An index mask's value: as the mapping says, else the model's class of that index."""
        mapped = self.mapped(str(v))
        if mapped is not None:
            return mapped
        if v < len(self.classes) or v == VOID:
            return v
        self.unknown.setdefault(f"value {v}", where)
        return VOID

    def check(self) -> None:
        """Raise the one sentence naming every unknown class met, if any."""
        if not self.unknown:
            return
        names = list(self.unknown)
        first = self.unknown[names[0]]
        raise ValueError(f"{len(names)} class{'es' if len(names) > 1 else ''} this model does not have: "
                         f"{self._shown(tuple(names))} (first in {first}); this model's classes are "
                         f"{self._shown(self.classes)}; a class mapping file says where each goes (JSON, e.g. "
                         '{"kitty": "cat"}; --classes MAP on the command line)')

    @staticmethod
    def _shown(names: tuple[str, ...]) -> str:
        listed = ", ".join(f"“{n}”" for n in names[:_SHOWN])
        return f"{listed}, … ({len(names)} in all)" if len(names) > _SHOWN else listed


    def colour_table(self, colors) -> dict[tuple[int, int, int], int]:
        """Colour → model index for colour masks: the model's own colours and void's, then the mapping's
        ``#rrggbb`` entries over them."""
        palette = full_palette(np.asarray(colors, np.uint8))
        table = {tuple(int(x) for x in palette[i]): i for i in reversed(range(len(self.classes)))}
        table.setdefault(tuple(int(x) for x in palette[VOID]), VOID)
        for key in self._mapping:
            m = _COLOUR.match(key)
            if m:
                table[tuple(int(m.group(1)[i:i + 2], 16) for i in (0, 2, 4))] = int(self.mapped(key))
        return table
