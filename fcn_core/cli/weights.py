"""``fcn-workbench weights list|get``: the published FCN weights, and downloading them into the cache (no torch)."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from .interrupts import interrupt_as_cancel

CACHE_HELP = "the folder the weights are kept in (default: $FCN_WORKBENCH_CACHE/weights, else ~/.cache/fcn-workbench/weights)"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("weights", help="list or download the published FCN weights (torchfcn .pth, the authors' .caffemodel)")
    actions = p.add_subparsers(dest="weights_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every published file, and whether it is in the cache")
    listing.add_argument("--cache", default=None, metavar="DIR", help=CACHE_HELP)
    get = actions.add_parser("get", help="download into the cache (a cut download resumes), then print each path")
    get.add_argument("names", nargs="+", metavar="NAME", help="names from 'fcn-workbench weights list'")
    get.add_argument("--mirror", default=None, metavar="URL",
                     help="a base URL or folder holding the files under their names (also: $FCN_WORKBENCH_MIRROR)")
    get.add_argument("--cache", default=None, metavar="DIR", help=CACHE_HELP)
    get.add_argument("--quiet", action="store_true", help="no progress, only the paths")
    for q in (listing, get):  # --debug after the action too, as after any command
        q.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback of an error")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return _list(args) if args.weights_action == "list" else _get(args)


def _list(args: argparse.Namespace) -> int:
    from ..weights.cache import cached_weights, weights_cache_dir
    from ..weights.catalog import public_weights

    rows = [("NAME", "NET", "FORMAT", "SIZE", "CHECKSUM", "CACHED", "PATH")]
    for e in public_weights():
        path = cached_weights(e, args.cache)
        rows.append((e.name, e.net, e.format_name, e.size_text, "md5" if e.md5 else "none published",
                     "yes" if path.is_file() else "no", str(path)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
    print(f"cache: {weights_cache_dir(args.cache)}")
    return 0


def _get(args: argparse.Namespace) -> int:
    from ..weights.cache import PART_SUFFIX, cached_weights
    from ..weights.catalog import find_public_weights
    from ..weights.download import fetch_public_weights
    from ..weights.errors import DownloadCancelled
    from ..weights.records import record_path

    entries = [find_public_weights(name) for name in args.names]  # every name checked before anything is fetched
    with interrupt_as_cancel() as interrupted:
        for e in entries:
            line = ProgressLine(e.name, sys.stderr, enabled=not args.quiet)
            try:
                fetched = fetch_public_weights(e, args.cache, args.mirror, line, interrupted)
            except DownloadCancelled:
                line.end()
                part = cached_weights(e, args.cache).with_name(e.file + PART_SUFFIX)
                kept = f"{part} keeps what came, and getting it again resumes" if part.exists() else "nothing was kept"
                print(f"fcn-workbench weights: interrupted; {e.name} is not in the cache ({kept})", file=sys.stderr)
                return 130
            finally:
                line.end()
            if not args.quiet:
                if fetched.url is None:
                    print(f"{e.name}: in the cache already", file=sys.stderr)
                if not fetched.checked:
                    print(f"{e.name}: no checksum is published; its sha256 is {fetched.sha256} "
                          f"(recorded in {record_path(fetched.path).name})", file=sys.stderr)
            print(fetched.path, flush=True)
    return 0


class ProgressLine:
    """``name: 12.3 / 544.6 MB (2%)`` on stderr: rewritten in place on a terminal, a line every tenth elsewhere."""

    def __init__(self, name: str, stream: TextIO, enabled: bool = True) -> None:
        self.name, self.stream, self.enabled = name, stream, enabled
        self.tty = enabled and _isatty(stream)
        self.shown = False
        self.step = -1

    def __call__(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        text = f"{self.name}: {done / 1e6:.1f}" + (f" / {total / 1e6:.1f} MB ({100 * done // max(total, 1)}%)"
                                                   if total else " MB")
        if self.tty:
            self.stream.write("\r" + text + "\x1b[K")
            self.stream.flush()
            self.shown = True
            return
        step = 10 * done // total if total else done // 50_000_000  # every tenth, or every 50 MB
        if step != self.step:
            self.step = step
            print(text, file=self.stream, flush=True)

    def end(self) -> None:
        """End a line rewritten in place (once)."""
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
            self.shown = False


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
