"""Errors as the one line a person reads."""

from __future__ import annotations

from pathlib import Path


def one_line(e: BaseException) -> str:
    """An OSError's own words with the file's name (no "[Errno 28]"), else the exception's text, on one line."""
    if isinstance(e, OSError) and e.strerror:
        text = e.strerror + (f" ({Path(e.filename).name})" if e.filename else "")
    else:
        text = str(e).strip() or type(e).__name__
    return " ".join(text.split())
