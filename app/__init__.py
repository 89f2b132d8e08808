"""FCN Workbench GUI (PySide6 + pyqtgraph). Reaches the model only through fcn_core's public API.

Layers, each importing only those below it (tests/test_layering.py): :mod:`.services` (off-thread work, the
model's door) → :mod:`.editing` (label documents and paint tools) → :mod:`.views` (widgets) →
:mod:`.dialogs` → :mod:`.window` (the main window and its workflows); :mod:`.entry` is the command line.
"""

import os

os.environ.setdefault("QT_API", "pyside6")  # qtawesome (the icons) goes through QtPy: use our binding, never another
