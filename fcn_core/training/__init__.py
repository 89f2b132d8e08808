"""Training (torch): the trainer and its configuration, fine-tuning on corrections, evaluation, the paper's metrics.

``config`` and ``metrics`` are importable without torch.
"""
