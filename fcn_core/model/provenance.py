"""How a model's weights were made: a typed record, read from and written to the checkpoint's JSON as before."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

# Depth of the chain of weights a model was trained from that a checkpoint may describe; a crafted file
# nested deeper is cut there rather than recursing without end.
MAX_LINEAGE = 64


def _text(d: dict, key: str) -> str:
    value = d.get(key, "")
    return value if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class Origin:
    """The weights a training run started from: the file, how they were trained, and their own origin."""

    weights: str = ""
    trained_on: str = ""
    date: str = ""
    recipe: str = ""
    unfinished: str = ""
    initialised_from: "Origin | None" = None

    def to_dict(self) -> dict:
        out: dict[str, Any] = {k: v for k, v in (("weights", self.weights), ("trained_on", self.trained_on),
                                                  ("date", self.date), ("recipe", self.recipe),
                                                  ("unfinished", self.unfinished)) if v}
        if self.initialised_from is not None:
            out["initialised_from"] = self.initialised_from.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: object, depth: int = 0) -> "Origin | None":
        if not isinstance(d, dict) or not d or depth >= MAX_LINEAGE:
            return None
        return cls(_text(d, "weights"), _text(d, "trained_on"), _text(d, "date"), _text(d, "recipe"),
                   _text(d, "unfinished"), cls.from_dict(d.get("initialised_from"), depth + 1))

    def chain(self) -> list["Origin"]:
        """This origin, then the one it was trained from, and so on."""
        out, o = [], self
        while o is not None:
            out.append(o)
            o = o.initialised_from
        return out


def _metrics(d: object) -> dict[str, dict]:
    """variant → metrics, keeping only entries of the shape evaluation writes."""
    if not isinstance(d, dict):
        return {}
    return {str(k): v for k, v in d.items() if isinstance(v, dict)}


@dataclass(frozen=True)
class Provenance:
    """Where a model's weights came from and how well they did.

    ``metrics`` (variant → the evaluation's figures) were measured on ``metrics_split``. ``unfinished`` marks
    a checkpoint written during training. ``extra`` keeps any other entry an older checkpoint holds.
    """

    trained_on: str = ""
    date: str = ""
    recipe: str = ""
    unfinished: str = ""
    initialised_from: Origin | None = None
    metrics: dict[str, dict] = field(default_factory=dict)
    metrics_split: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def with_changes(self, **changes: Any) -> "Provenance":
        return replace(self, **changes)

    def origin(self, weights: str) -> Origin:
        """These weights as the start of another run: how they were made, not their metrics (which describe them)."""
        return Origin(weights, self.trained_on, self.date, self.recipe, self.unfinished, self.initialised_from)

    @property
    def empty(self) -> bool:
        return self == Provenance()

    def to_dict(self) -> dict:
        out: dict[str, Any] = {k: v for k, v in (("trained_on", self.trained_on), ("date", self.date),
                                                  ("recipe", self.recipe), ("unfinished", self.unfinished)) if v}
        if self.initialised_from is not None:
            out["initialised_from"] = self.initialised_from.to_dict()
        out.update(self.extra)
        if self.metrics:
            out["metrics"] = self.metrics
        if self.metrics_split:
            out["metrics_split"] = self.metrics_split
        return out

    @classmethod
    def from_dict(cls, d: object) -> "Provenance":
        if not isinstance(d, dict):
            return cls()
        known = {f.name for f in fields(cls)} - {"extra"}
        return cls(_text(d, "trained_on"), _text(d, "date"), _text(d, "recipe"), _text(d, "unfinished"),
                   Origin.from_dict(d.get("initialised_from")), _metrics(d.get("metrics")), _text(d, "metrics_split"),
                   {str(k): v for k, v in d.items() if k not in known})

    def describe(self) -> list[str]:
        """Lines for ``fcn-workbench info``: the facts, the metrics, then the chain of weights it came from."""
        lines = [f"{k}: {v}" for k, v in (("trained_on", self.trained_on), ("date", self.date), ("recipe", self.recipe),
                                          ("unfinished", self.unfinished)) if v]
        lines += [f"{k}: {v}" for k, v in self.extra.items() if not isinstance(v, (dict, list))]
        if self.metrics_split:
            lines.append(f"metrics_split: {self.metrics_split}")
        for variant, m in self.metrics.items():
            try:
                lines.append(f"metrics {variant}: mean IU {100 * float(m['mean_iu']):.1f}, "
                             f"pixel acc {100 * float(m['pixel_acc']):.1f}")
            except (KeyError, TypeError, ValueError):
                continue
        chain = self.initialised_from.chain() if self.initialised_from else []
        for depth, o in enumerate(chain, 1):
            facts = "; ".join(v for v in (o.trained_on, o.recipe, o.unfinished) if v)
            lines.append(f"{'  ' * depth}initialised from {o.weights or '?'}{': ' + facts if facts else ''}")
        return lines
