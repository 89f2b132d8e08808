"""Where the bundled resources live."""

from __future__ import annotations

from pathlib import Path

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
DEMO_MODEL = RESOURCES / "demo_model.pt"
SAMPLES = RESOURCES / "samples"
