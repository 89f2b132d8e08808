"""Library noise kept off the terminal: a refusal is one sentence, not that sentence under libpng's warnings."""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def library_noise_captured(enabled: bool = True) -> Iterator[None]:
    """Python warnings (Pillow's DecompressionBombWarning, numpy's RuntimeWarning) are ignored, and what C
    libraries write to file descriptor 2 themselves (libpng, libtiff, OpenCV) goes to a discarded file, while
    ``sys.stderr`` (the app's own sentences and progress) still reaches the terminal. Off with ``enabled=False``
    (``--debug``), and where ``sys.stderr`` is not descriptor 2 (a test capturing it)."""
    if not enabled:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            redirect = sys.stderr.fileno() == 2
        except (AttributeError, OSError, ValueError):
            redirect = False
        if not redirect:
            yield
            return
        sys.stderr.flush()
        terminal = os.dup(2)
        previous = sys.stderr
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            sys.stderr = open(terminal, "w", buffering=1, encoding=previous.encoding,  # noqa: SIM115
                              errors="backslashreplace", closefd=False)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(terminal, 2)
                sys.stderr = previous
                os.close(terminal)
