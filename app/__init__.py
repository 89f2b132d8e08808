"""FCN Workbench GUI (PySide6 + pyqtgraph). Reaches the model only through fcn_core's public API."""
