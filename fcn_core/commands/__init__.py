"""The core subcommands of ``fcn-workbench``; each module registers one."""

from __future__ import annotations

import argparse

from . import info, predict


def register(sub: argparse._SubParsersAction) -> None:
    for module in (predict, info):
        module.register(sub)
