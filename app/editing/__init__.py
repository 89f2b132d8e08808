"""Correcting labels without widgets: the label session (open, autosave, retry), the paint tools, where
corrections are saved. Builds on :mod:`app.services`."""
