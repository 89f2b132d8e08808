"""Starting the GUI: the QApplication, the window, the model and images from the command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from fcn_core import DEMO_MODEL, SAMPLES

from .main_window import MainWindow

SCREENSHOT_TIMEOUT_MS = 180_000


def _default_images() -> list[Path]:
    return [SAMPLES] if SAMPLES.exists() and any(SAMPLES.iterdir()) else []


def take_screenshot_when_rendered(window: MainWindow, path: Path, app: QApplication) -> None:
    """Save the window to ``path`` once the view shows a result (or on time-out), then quit."""
    state = {"done": False}

    def save(ok: bool) -> None:
        if state["done"]:
            return
        state["done"] = True
        window.grab().save(str(path))
        print(f"saved {path}" if ok else f"saved {path} (timed out before inference finished)")
        app.exit(0 if ok else 1)

    window.rendered.connect(lambda: QTimer.singleShot(400, lambda: save(True)))
    QTimer.singleShot(SCREENSHOT_TIMEOUT_MS, lambda: save(False))


def run_gui(args: argparse.Namespace) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("FCN Workbench")
    window = MainWindow()
    if args.screenshot:
        window.resize(1400, 880)
    else:
        window.restore_geometry()
    window.show()
    window.actions.devices.get(args.device, window.actions.devices["auto"]).setChecked(True)
    weights = [Path(w) for w in args.weights] if args.weights else [DEMO_MODEL]
    if weights == [DEMO_MODEL] and not DEMO_MODEL.exists():
        window.show_error(f"The demo model {DEMO_MODEL} is missing; load weights from the Model menu.")
    else:
        window.load_model(weights, args.at_once)
    window._set_view(args.view or ("single" if args.screenshot else window.saved_view()))
    paths = [Path(p) for p in args.paths] or _default_images()
    if paths:
        window.open_paths(paths)
    if args.screenshot:
        take_screenshot_when_rendered(window, Path(args.screenshot), app)
    return app.exec()
