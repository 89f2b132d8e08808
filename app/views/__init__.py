"""The widgets that show things: image panes and overlays, the single, compare and skip views, the file list,
the legend, the display and correction panels. Build on :mod:`app.editing` and :mod:`app.services`."""
