"""JSON from files the app did not necessarily write: bounded, and every failure one sentence."""

from __future__ import annotations

import json

MAX_JSON_BYTES = 16 << 20  # metadata, state and class files are kilobytes; this is far above any of ours


def parse_json(data: bytes | str, where: str, max_bytes: int = MAX_JSON_BYTES) -> object:
    """``data`` parsed as JSON, or :class:`ValueError` naming ``where``: too large, not UTF-8, malformed, or
    nested too deep (``[[[[…`` 100,000 levels deep would otherwise raise RecursionError)."""
    if len(data) > max_bytes:
        raise ValueError(f"{where} holds {len(data):,} bytes of JSON, more than {max_bytes:,}")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text)
    except UnicodeDecodeError:
        raise ValueError(f"{where} is not UTF-8 text") from None
    except RecursionError:
        raise ValueError(f"{where} holds JSON nested too deep") from None
    except ValueError as e:
        raise ValueError(f"{where} is not valid JSON ({e.msg} at line {e.lineno})"
                         if isinstance(e, json.JSONDecodeError) else f"{where} is not valid JSON") from None
