"""The dialogs: export, import, fine-tune, what a fine-tune changed, public weights. Build on the views,
editing and services."""
