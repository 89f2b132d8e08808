"""``fcn-workbench`` command line: the GUI and every core task share one entry point.

One module per command, each with ``register(sub)`` and ``run(args)``. The modules import torch inside
``run`` only, so ``fcn-workbench --help`` and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

from ..messages import one_line
from . import bench, evaluate, export, export_onnx, finetune, import_labels, info, make_demo_data, predict, train, weights
from .args import CLIError, add_device_arg, add_weights_args
from .quiet import library_noise_captured

__all__ = ["CLIError", "DEBUG_ENV", "add_device_arg", "add_weights_args", "build_parser", "debugging", "main"]

COMMANDS = (predict, info, make_demo_data, train, finetune, evaluate, export, import_labels, export_onnx, bench, weights)
Registrar = Callable[[argparse._SubParsersAction], None]

DEBUG_ENV = "FCN_WORKBENCH_DEBUG"  # "1": show tracebacks (``--debug`` sets it, so the GUI's workers see it too)
DEBUG_HELP = "show the traceback of an error instead of one sentence (also: FCN_WORKBENCH_DEBUG=1)"


def debugging() -> bool:
    """Whether ``--debug`` (or ``FCN_WORKBENCH_DEBUG=1``) asked for tracebacks."""
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def build_parser(extra: Registrar | None = None, default: str | None = None) -> argparse.ArgumentParser:
    """The parser of the core commands, plus those ``extra`` adds (the GUI adds ``gui``)."""
    epilog = (f"With no COMMAND the arguments go to '{default}': 'fcn-workbench IMAGE... FOLDER...' "
              f"is 'fcn-workbench {default} IMAGE... FOLDER...'." if default else None)
    parser = argparse.ArgumentParser(prog="fcn-workbench", epilog=epilog,
                                     description="FCN Workbench: inspect, correct and fine-tune FCN segmentations.")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    if extra is not None:
        extra(sub)
    for p in sub.choices.values():  # --debug after the command too; SUPPRESS keeps a --debug given before it
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser


def _route_to_default(parser: argparse.ArgumentParser, argv: list[str], default: str | None) -> list[str] | str:
    """``argv`` with ``default`` put in front of what is not a command (``IMAGE...`` → ``gui IMAGE...``), or the
    one-line error for a first word that is neither a command nor an existing file."""
    if not default:
        return argv
    top = {s for action in parser._actions for s in action.option_strings}
    commands = {name for action in parser._actions if isinstance(action, argparse._SubParsersAction)
                for name in action.choices}
    i = 0
    while i < len(argv) and argv[i] in top:
        i += 1
    leading, rest = argv[:i], argv[i:]
    if "-h" in leading or "--help" in leading or (rest and rest[0] in commands):
        return argv
    if rest and not rest[0].startswith("-") and not Path(rest[0]).exists():
        word = rest[0]
        close = difflib.get_close_matches(word, sorted(commands), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        return f"no such command or file: {word} ({hint}fcn-workbench --help lists the commands)"
    return [*leading, default, *rest]


def main(argv: Sequence[str] | None = None, extra: Registrar | None = None, default: str | None = None) -> int:
    """Run the CLI. Arguments that start with no command (none at all, images, folders, options the top level
    does not know) run the ``default`` command (the GUI) if there is one."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(extra, default)
    routed = _route_to_default(parser, argv, default)
    if isinstance(routed, str):
        print(f"fcn-workbench: {routed}", file=sys.stderr)
        return 2
    args = parser.parse_args(routed)
    if args.debug:
        os.environ[DEBUG_ENV] = "1"  # inherited by the GUI's worker threads and any child process
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    if args.command != "gui":  # the CLI runs the model on its main thread: keep its freed memory mapped
        from ..inference.cpu_tuning import keep_freed_memory

        keep_freed_memory()
    with library_noise_captured(enabled=args.command != "gui" and not debugging()):
        return _run(handler, args)


def _run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """The command, every failure turned into one line (the traceback with ``--debug``)."""
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        if debugging():
            raise
        print("fcn-workbench: interrupted", file=sys.stderr)
        return 130
    except MemoryError as e:
        if debugging():
            raise
        detail = f" ({one_line(e)})" if str(e) else ""
        print(f"fcn-workbench {args.command}: not enough memory for this{detail}; nothing was written", file=sys.stderr)
        return 2
    except (CLIError, ValueError, OSError) as e:
        if debugging():
            raise
        print(f"fcn-workbench {args.command}: {one_line(e)}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - a bug: one line, the traceback on request
        if debugging():
            raise
        print(f"fcn-workbench {args.command}: unexpected error: {one_line(e)} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1
