"""``fcn-workbench`` command line: the GUI and every core task share one entry point.

One module per command, each with ``register(sub)`` and ``run(args)``. The modules import torch inside
``run`` only, so ``fcn-workbench --help`` and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from ..messages import one_line
from . import bench, evaluate, export, info, make_demo_data, predict, train
from .args import CLIError, add_device_arg, add_weights_args

__all__ = ["CLIError", "add_device_arg", "add_weights_args", "build_parser", "main"]

COMMANDS = (predict, info, make_demo_data, train, evaluate, export, bench)
Registrar = Callable[[argparse._SubParsersAction], None]


def build_parser(extra: Registrar | None = None) -> argparse.ArgumentParser:
    """The parser of the core commands, plus those ``extra`` adds (the GUI adds ``gui``)."""
    parser = argparse.ArgumentParser(prog="fcn-workbench", description="FCN Workbench: inspect, correct and fine-tune FCN segmentations.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    if extra is not None:
        extra(sub)
    return parser


def main(argv: Sequence[str] | None = None, extra: Registrar | None = None, default: str | None = None) -> int:
    """Run the CLI; with no arguments, run the ``default`` command (the GUI) if there is one."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv and default:
        argv = [default]
    parser = build_parser(extra)
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    if args.command != "gui":  # the CLI runs the model on its main thread: keep its freed memory mapped
        from ..inference.cpu_tuning import keep_freed_memory

        keep_freed_memory()
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("fcn-workbench: interrupted", file=sys.stderr)
        return 130
    except (CLIError, ValueError, OSError) as e:
        print(f"fcn-workbench {args.command}: {one_line(e)}", file=sys.stderr)
        return 2
