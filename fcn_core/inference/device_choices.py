"""The devices a person can choose (no torch: the command line and the window list them before loading it)."""

DEVICE_CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda")
