"""The model: the paper's layers and bundles (torch), and what travels with the weights (no torch).

``architecture`` and ``bundle`` hold the layers; ``normalize`` applies the input preprocessing to tensors.
``metadata``, ``preprocessing`` and ``palette`` are plain data, importable without torch.
"""
