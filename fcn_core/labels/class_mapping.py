"""Carrying labels from the classes they were saved with to the current model's classes, by name (no torch)."""

from __future__ import annotations

import numpy as np

from ..model.palette import VOID

_LIST_SHOWN = 8  # names of a class list shown in a message before "…"


class ClassMismatch(ValueError):
    """Saved labels use classes the current model does not have; the message is one sentence naming them."""

    def __init__(self, message: str, missing: tuple[str, ...], saved: tuple[str, ...], current: tuple[str, ...]):
        super().__init__(message)
        self.missing, self.saved, self.current = missing, saved, current


def class_key(name: str) -> str:
    """The form two class names share when they name the same class (case and spacing aside)."""
    # "Person", " person" and "person " name the same class; anything else is another class
    return " ".join(str(name).split()).casefold()


def _shown(names: tuple[str, ...]) -> str:
    listed = ", ".join(names[:_LIST_SHOWN])
    return f"{listed}, … ({len(names)} in all)" if len(names) > _LIST_SHOWN else listed


def class_lookup(saved: tuple[str, ...], current: tuple[str, ...]) -> np.ndarray:
    """The 256-entry uint8 table saved index → current index of the same name; VOID where there is none."""
    index: dict[str, int] = {}
    for i, name in enumerate(current):
        index.setdefault(class_key(name), i)  # a name listed twice: its first index, as a person reads the list
    lut = np.full(256, VOID, np.uint8)
    for i, name in enumerate(saved[:VOID]):
        lut[i] = index.get(class_key(name), VOID)
    return lut


def map_labels(labels: np.ndarray, saved: tuple[str, ...], current: tuple[str, ...],
               what: str = "the saved labels") -> np.ndarray:
    """``labels`` drawn with the classes ``saved``, as indices into ``current`` (matched by name; VOID stays VOID).

    Returns ``labels`` itself when nothing moves. Raises :class:`ClassMismatch` when a class that occurs in
    ``labels`` (or a value beyond ``saved``) has no class of that name in ``current``.
    """
    saved, current = tuple(saved), tuple(current)
    if saved == current:
        return labels
    lut = class_lookup(saved, current)
    labels8 = np.asarray(labels, np.uint8)
    unmatched = lut == VOID
    unmatched[VOID] = False
    # plain indexing with the uint8 pixels: no int64 copy of a 24 MP image (np.take and np.bincount make one)
    lost_pixels = unmatched[labels8]
    if lost_pixels.any():
        lost = [int(v) for v in np.unique(labels8[lost_pixels])]
        missing = tuple(saved[v] if v < len(saved) else f"{v} (a value no saved class has)" for v in lost)
        quoted = ", ".join(f"“{m}”" for m in missing)
        raise ClassMismatch(
            f"{what[:1].upper()}{what[1:]} use {'class' if len(missing) == 1 else 'classes'} {quoted}, which "
            f"this model's classes lack (saved with: {_shown(saved)}; this model: {_shown(current)}).",
            missing, saved, current)
    if all(lut[i] == i for i in np.flatnonzero(~unmatched)):
        return labels  # the names differ only where no pixel is, or only in case and spacing
    return lut[labels8]
