"""Labels a person corrects: the label document with its undo history, the paint tools, class shares (no torch)."""
