"""Data: the generated scenes of the demo model, writing them as a dataset, and VOC-layout torch datasets."""
