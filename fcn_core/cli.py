"""``fcn-workbench`` command line: the GUI and every core task share one entry point."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Sequence

from .device import DEVICE_CHOICES


class CLIError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


def add_weights_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", action="append", default=None, metavar="FILE",
                   help="checkpoint, torchfcn .pth or .caffemodel; repeat to bundle 32s/16s/8s (default: the demo model)")
    p.add_argument("--at-once", action="store_true", help="the FCN-8s weights are the at-once net (pool scaling)")


def add_device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto")


Registrar = Callable[[argparse._SubParsersAction], None]


def build_parser(extra: Registrar | None = None) -> argparse.ArgumentParser:
    """The parser of the core commands, plus those ``extra`` adds (the GUI adds ``gui``)."""
    from . import commands

    parser = argparse.ArgumentParser(prog="fcn-workbench", description="FCN Workbench: inspect, correct and fine-tune FCN segmentations.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.register(sub)
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
        from .cpu_tuning import keep_freed_memory

        keep_freed_memory()
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("fcn-workbench: interrupted", file=sys.stderr)
        return 130
    except (CLIError, ValueError, OSError) as e:
        print(f"fcn-workbench {args.command}: {_one_line(e)}", file=sys.stderr)
        return 2


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        where = f" ({Path(e.filename).name})" if e.filename else ""
        return f"{e.strerror}{where}"
    text = str(e).strip() or type(e).__name__
    return " ".join(text.split())
