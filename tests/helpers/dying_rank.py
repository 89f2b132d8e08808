"""``fcn-workbench`` under torchrun with one rank that dies mid-run (SIGKILL, as the OOM killer or a lost node
would) or hangs: ``FCN_TEST_DIE=RANK:MODULE:FUNCTION:N`` makes rank RANK kill itself on its N-th call of
MODULE.FUNCTION; ``FCN_TEST_HANG=...`` (the same form) makes it sleep there for ten minutes instead."""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time

from fcn_core.cli import main


def _arm(spec: str, hang: bool) -> None:
    rank, module_name, name, n = spec.split(":")
    if os.environ.get("RANK") != rank:
        return
    module = importlib.import_module(module_name)
    real, calls = getattr(module, name), [0]

    def dying(*args, **kwargs):
        calls[0] += 1
        if calls[0] >= int(n):
            if hang:
                time.sleep(600)
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)

    setattr(module, name, dying)


if __name__ == "__main__":
    if "FCN_TEST_DIE" in os.environ:
        _arm(os.environ["FCN_TEST_DIE"], hang=False)
    if "FCN_TEST_HANG" in os.environ:
        _arm(os.environ["FCN_TEST_HANG"], hang=True)
    sys.exit(main())
