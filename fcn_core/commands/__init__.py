"""The core subcommands of ``fcn-workbench``; each module registers one."""

from __future__ import annotations

import argparse

from . import bench, evaluate, export, info, make_demo_data, predict, train


def register(sub: argparse._SubParsersAction) -> None:
    for module in (predict, info, make_demo_data, train, evaluate, export, bench):
        module.register(sub)
