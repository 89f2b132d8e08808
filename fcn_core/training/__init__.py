"""Training (torch): the trainer and its configuration, its sample stream and loss (the same for one process and
for torchrun's several), fine-tuning on corrections, evaluation, the paper's metrics.

``config`` and ``metrics`` are importable without torch.
"""
