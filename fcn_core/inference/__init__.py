"""Inference (torch): the engine and its results, confidence maps, tiling and the out-of-memory policy, the
fast equivalent forms of the layers, compiled backbones, device choice and process tuning, folder runs."""
