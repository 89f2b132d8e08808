"""Files: atomic writes and writer locks, staged folders, image I/O, the workspace, the VOC layout and export.

No torch: the window saves and exports without loading the model's libraries.
"""
