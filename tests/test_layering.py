"""The layers stay apart: fcn_core never touches Qt, app never touches torch."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(folder: str) -> set[str]:
    found = set()
    for path in (ROOT / folder).rglob("*.py"):
        for line in path.read_text().splitlines():
            m = re.match(r"\s*(?:from|import)\s+([A-Za-z_][\w]*)", line)
            if m:
                found.add(m.group(1))
    return found


def test_core_never_imports_qt():
    assert not _imports("fcn_core") & {"PySide6", "pyqtgraph", "PyQt5", "PyQt6", "app"}


def test_app_never_imports_torch():
    assert not _imports("app") & {"torch", "torchvision"}


def test_core_loads_without_qt():
    code = "import sys, fcn_core, fcn_core.cli, fcn_core.training; print('PySide6' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_the_window_starts_without_torchvision():
    """Opening the window imports no torchvision (it costs seconds at start; fine-tuning imports it later)."""
    import os

    code = "import sys; import app.main_window; print('torchvision' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stderr[-500:]
    assert out.stdout.strip().splitlines()[-1] == "False"
