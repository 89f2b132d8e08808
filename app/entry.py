"""The ``fcn-workbench`` entry point: the core commands plus ``gui`` (the default).

``fcn-workbench IMAGE... FOLDER...`` (no command) is ``fcn-workbench gui IMAGE... FOLDER...``; ``--debug`` shows
tracebacks instead of one-sentence errors, in the window's background jobs too."""

from __future__ import annotations

import argparse
from typing import Sequence

from fcn_core.cli import add_device_arg, add_weights_args
from fcn_core.cli import main as core_main


def register_gui(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the Workbench window (the default: fcn-workbench IMAGE... is gui IMAGE...)")
    p.add_argument("paths", nargs="*", help="images or folders to open")
    add_weights_args(p)
    add_device_arg(p)
    p.add_argument("--view", choices=("single", "compare", "skips"), default=None,
                   help="the view to start in (default: the one the window was closed in)")
    p.add_argument("--screenshot", metavar="PNG", help="render the window once inference is done, save it, exit")
    p.set_defaults(handler=_run_gui)


def _run_gui(args: argparse.Namespace) -> int:
    from .window.application import run_gui  # Qt is loaded only for the GUI

    return run_gui(args)


def main(argv: Sequence[str] | None = None) -> int:
    return core_main(argv, extra=register_gui, default="gui")
