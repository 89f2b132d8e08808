"""FCN Workbench GUI (PySide6 + pyqtgraph). Reaches the model only through fcn_core's public API."""

import os

os.environ.setdefault("QT_API", "pyside6")  # qtawesome (the icons) goes through QtPy: use our binding, never another
