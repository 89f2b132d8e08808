"""The layers stay apart: fcn_core never touches Qt, app never touches torch, and each layer loads only the
heavy libraries it computes with (checked in fresh interpreters)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "torchvision", "cv2", "PySide6")


def _imports(folder: str) -> set[str]:
    found = set()
    for path in (ROOT / folder).rglob("*.py"):
        for line in path.read_text().splitlines():
            m = re.match(r"\s*(?:from|import)\s+([A-Za-z_][\w]*)", line)
            if m:
                found.add(m.group(1))
    return found


def _loaded_by(code: str) -> set[str]:
    """The heavy libraries a fresh interpreter holds after running ``code``."""
    probe = f"import sys\n{code}\nimport json; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 0, out.stderr[-800:]
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_core_never_imports_qt():
    assert not _imports("fcn_core") & {"PySide6", "pyqtgraph", "PyQt5", "PyQt6", "app"}


def test_app_never_imports_torch():
    assert not _imports("app") & {"torch", "torchvision"}



APP_LAYERS = ("services", "editing", "views", "dialogs", "window")  # bottom to top (app/__init__.py)


def test_each_app_layer_imports_only_the_layers_below_it():
    import ast

    upward = []
    for path in (ROOT / "app").rglob("*.py"):
        here = path.parent.name
        if here not in APP_LAYERS:
            assert path.parent == ROOT / "app" and path.name in ("__init__.py", "entry.py"), f"{path} is in no layer"
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            module = node.module or ""
            if node.level == 0 and module.split(".")[0] == "app":
                upward.append(f"{path.name}: absolute import of {module}")  # a layer is reached relatively
            elif node.level == 2 and module.split(".")[0] in APP_LAYERS:
                if APP_LAYERS.index(module.split(".")[0]) > APP_LAYERS.index(here):
                    upward.append(f"{here}/{path.name} imports {module}")
    assert upward == []

# module → the heavy libraries importing it may load (anything else it loads fails the test)
LAYERS = {
    "fcn_core": set(),
    "fcn_core.cli": set(),
    "fcn_core.messages": set(),
    "fcn_core.paths": set(),
    "fcn_core.model": set(),
    "fcn_core.model.metadata": set(),
    "fcn_core.model.provenance": set(),
    "fcn_core.model.preprocessing": set(),
    "fcn_core.model.palette": set(),
    "fcn_core.labels": set(),
    "fcn_core.labels.document": set(),
    "fcn_core.labels.paint_tools": {"cv2"},
    "fcn_core.labels.class_shares": {"cv2"},
    "fcn_core.labels.label_changes": {"cv2"},
    "fcn_core.storage": set(),
    "fcn_core.storage.atomic": set(),
    "fcn_core.storage.staging": set(),
    "fcn_core.storage.voc_layout": set(),
    "fcn_core.storage.image_io": {"cv2"},
    "fcn_core.storage.workspace": {"cv2"},
    "fcn_core.storage.export": {"cv2"},
    "fcn_core.storage.label_import": {"cv2"},
    "fcn_core.storage.labelme_format": {"cv2"},
    "fcn_core.cli.import_labels": set(),
    "fcn_core.data": set(),
    "fcn_core.data.scenes": {"cv2"},
    "fcn_core.data.demo_data": {"cv2"},
    "fcn_core.training": set(),
    "fcn_core.training.config": set(),
    "fcn_core.training.metrics": set(),
    "fcn_core.inference": set(),
    "fcn_core.inference.device_choices": set(),
    "fcn_core.inference.tiling": set(),
    "fcn_core.inference.cpu_tuning": set(),
    "fcn_core.inference.uncertainty": set(),
    "fcn_core.bench": set(),
    "fcn_core.weights": set(),  # its names load on first use: the catalogue and the downloader need no torch
    "fcn_core.weights.catalog": set(),
    "fcn_core.weights.download": set(),
    "fcn_core.cli.weights": set(),
    # the layers that compute with torch
    "fcn_core.model.architecture": {"torch"},
    "fcn_core.model.bundle": {"torch"},
    "fcn_core.distributed": {"torch"},
    "fcn_core.weights.loading": {"torch"},
    "fcn_core.inference.engine": {"torch", "cv2"},
    "fcn_core.inference.folder_predict": {"torch", "cv2"},
    "fcn_core.bench.benchmark": {"torch", "cv2"},
    # torchvision only where its datasets and transforms are used
    "fcn_core.data.voc_dataset": {"torch", "torchvision", "cv2"},
    "fcn_core.training.evaluation": {"torch", "torchvision", "cv2"},
    "fcn_core.training.trainer": {"torch", "torchvision", "cv2"},
    "fcn_core.training.finetune": {"torch", "cv2"},
}


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_each_layer_loads_only_what_it_computes_with(module):
    assert _loaded_by(f"import {module}") == LAYERS[module]


def test_the_public_names_of_the_torch_free_layers_load_no_torch():
    code = "from fcn_core import LabelDocument, Workspace, DEMO_MODEL, SAMPLES, ModelMeta, VOID, one_line, DEVICE_CHOICES"
    assert _loaded_by(code) == {"cv2"}  # the workspace reads and writes images
    assert _loaded_by("from fcn_core import Engine, load_bundle, make_scene, read_image") == {"torch", "cv2"}


def test_help_loads_no_torch():
    """``fcn-workbench --help`` and a command's ``--help`` answer without loading the model's libraries."""
    for argv in (["--help"], ["train", "--help"], ["bench", "--help"]):
        code = (f"from app.entry import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass")
        assert _loaded_by(code) == set(), argv


def test_the_window_starts_without_torchvision():
    """Opening the window imports no torchvision (it costs seconds at start; fine-tuning imports it later)."""
    assert "torchvision" not in _loaded_by("import app.window.main_window")
