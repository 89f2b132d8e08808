"""The top layer: the main window, its actions, state, settings, layout and wiring, and the workflows that
join the lower layers (correcting, fine-tuning, importing, which image next)."""
