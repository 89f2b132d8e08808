"""Fetching a public weights file into the cache: progress, resume, cancel, checksum, atomic arrival (no torch).

The bytes go to ``<file>.part`` in the cache folder, locked while written. A cut connection leaves it, and the
next fetch asks for the rest with an HTTP Range request (a server that ignores Range and sends the whole file
is read from the start again). A cancel leaves it too. When the transfer is complete, the md5 is compared with
the published one where there is one (a mismatch removes the partial file and is refused in one sentence), the
file is fsynced and renamed to its final name, and a record (:mod:`.records`) keeps its md5 and sha256.
A web page where the weights should be (Google Drive asks to confirm large downloads that way) is refused.
"""

from __future__ import annotations

import http.client
import os
import re
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator
from urllib.parse import urlsplit

from ..storage.atomic import fsync_dir
from .cache import PART_SUFFIX, weights_cache_dir, source_url
from .catalog import PublicWeights
from .errors import DownloadCancelled, DownloadError, WeightsError
from .records import Fetched, Hashes, adopt, write_record

try:
    import fcntl
except ImportError:  # Windows: no lock on the partial file
    fcntl = None  # type: ignore[assignment]

CHUNK = 1 << 16
TIMEOUT_S = 30.0
PROGRESS_EVERY_S = 0.1
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<!--")

Progress = Callable[[int, "int | None"], None]  # (bytes in the file so far, the file's size when the server says it)


def fetch_public_weights(entry: PublicWeights, cache: str | Path | None = None, mirror: str | None = None,
                         progress: Progress | None = None, cancelled: Callable[[], bool] | None = None,
                         timeout: float = TIMEOUT_S) -> Fetched:
    """Download ``entry`` into the cache (``--cache``), from ``mirror`` (else ``$FCN_WORKBENCH_MIRROR``, else its
    own URL), unless it is there already. Raises DownloadError (network, server, disk), WeightsError (a web page,
    the wrong md5, a file far larger than announced) or DownloadCancelled (``cancelled()`` became true)."""
    folder = weights_cache_dir(cache)
    final = folder / entry.file
    if final.is_file():
        return adopt(entry, final, cancelled)
    url = source_url(entry, mirror)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"cannot make the cache folder {folder}: {e.strerror or e}") from None
    part = folder / (entry.file + PART_SUFFIX)
    with _locked_part(part, entry.name) as f:
        if final.is_file():  # another process finished it just now
            return adopt(entry, final, cancelled)
        hashes, kept = _hash_part(f, cancelled)
        size, start = _transfer(url, f, hashes, kept, _limit(entry), _Reporter(progress), cancelled, timeout, part)
        md5 = hashes.md5.hexdigest()
        if entry.md5 is not None and md5 != entry.md5:
            _remove(part)
            raise WeightsError(f"the file from {_where(url)} has md5 {md5}, not the published {entry.md5}, so it was "
                               "not kept (a different or damaged file: try again, or another mirror)")
        f.flush()
        os.fsync(f.fileno())
        os.replace(part, final)
    fsync_dir(folder)
    fetched = Fetched(entry.name, final, size, md5, hashes.sha256.hexdigest(), entry.md5 is not None, url, start)
    try:
        write_record(fetched)
    except OSError:
        pass  # the file is whole and in place; the next fetch finds no record, hashes it and records it
    return fetched


def _limit(entry: PublicWeights) -> int:
    """The most bytes accepted: twice the announced size (a server that streams forever is stopped)."""
    return 2 * entry.approx_bytes + CHUNK


class _Reporter:
    """Calls ``progress`` at most every PROGRESS_EVERY_S, and always for the last bytes."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress, self.last = progress, 0.0

    def __call__(self, done: int, total: int | None, last: bool = False) -> None:
        now = time.monotonic()
        if self.progress is not None and (last or now - self.last >= PROGRESS_EVERY_S):
            self.last = now
            self.progress(done, total)


@contextmanager
def _locked_part(part: Path, name: str) -> Iterator[BinaryIO]:
    """The partial file, opened for reading and writing, locked against a second download of the same file."""
    try:
        fd = os.open(part, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise DownloadError(f"cannot write {part}: {e.strerror or e}") from None
    f = os.fdopen(fd, "r+b")
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DownloadError(f"another download of {name} is running (it holds {part})") from None
            except OSError:
                pass  # a file system without locks: go on unguarded
        yield f
    finally:
        try:
            f.flush()
        except OSError:
            pass  # a full disk: what is buffered is lost, the file keeps what it has
        empty = _size(f) == 0
        try:
            f.close()
        except OSError:
            pass
        if empty and part.exists():
            _remove(part)  # nothing fetched (a refused answer, an unreachable server): leave nothing


def _size(f: BinaryIO) -> int:
    try:
        return os.fstat(f.fileno()).st_size
    except OSError:
        return -1


def _hash_part(f: BinaryIO, cancelled: Callable[[], bool] | None) -> tuple[Hashes, int]:
    """The hashes of what a cut-off download left, and its length (the file positioned at its end)."""
    hashes, done = Hashes(), 0
    f.seek(0)
    for block in iter(lambda: f.read(1 << 20), b""):
        _check(cancelled)
        hashes.update(block)
        done += len(block)
    return hashes, done


def _check(cancelled: Callable[[], bool] | None) -> None:
    if cancelled is not None and cancelled():
        raise DownloadCancelled("cancelled")


def _transfer(url: str, f: BinaryIO, hashes: Hashes, start: int, limit: int, report: _Reporter,
              cancelled: Callable[[], bool] | None, timeout: float, part: Path) -> tuple[int, int]:
    """Append the rest of ``url`` to ``f`` (all of it, from the start, when the server will not send the rest);
    return the file's length and where this transfer began."""
    response, start, total = _open(url, start, timeout)
    done, first = start, True
    try:
        while True:
            _check(cancelled)
            try:
                chunk = response.read(CHUNK)
            except (OSError, http.client.HTTPException) as e:
                raise _cut(url, done, total, part, e) from None
            if not chunk:
                break
            if first:
                _refuse_web_page(url, response, chunk if start == 0 else b"", part)  # sniffed at the file's start only
                if start == 0:  # a fresh start, or the server ignored Range: what the file held goes
                    f.seek(0)
                    f.truncate()
                    hashes.reset()
                first = False
            try:
                f.write(chunk)
            except OSError as e:
                raise DownloadError(f"cannot write {part} ({e.strerror or e}); it keeps what was written, and "
                                    "getting it again resumes from there") from None
            hashes.update(chunk)
            done += len(chunk)
            if done > limit:
                f.truncate(0)
                raise WeightsError(f"{_where(url)} sent more than {limit / 1e6:.0f} MB, far more than this file's size, "
                                   "so it was not kept")
            report(done, total)
    finally:
        response.close()
    if done == 0:
        raise DownloadError(f"{_where(url)} sent an empty file where the weights were expected")
    if total is not None and done < total:
        raise _cut(url, done, total, part, None)
    report(done, total, last=True)
    return done, start


def _open(url: str, start: int, timeout: float):
    """The response for ``url`` from byte ``start``, that start (0 when the server sends the whole file), and the
    file's size when the server says it."""
    headers = {"User-Agent": "fcn-workbench", "Accept-Encoding": "identity"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as e:
        e.close()
        if e.code == 416 and start:  # the partial file is not a prefix of what the server has: start again
            return _open(url, 0, timeout)
        raise DownloadError(f"{_where(url)} answered HTTP {e.code} ({e.reason}) for {url}") from None
    except urllib.error.URLError as e:
        if urlsplit(url).scheme == "file":
            raise DownloadError(f"the mirror has no {url.rsplit('/', 1)[-1]} ({urllib.request.url2pathname(urlsplit(url).path)} "
                                "is missing or unreadable)") from None
        reason = e.reason.strerror if isinstance(e.reason, OSError) and e.reason.strerror else e.reason
        raise DownloadError(f"cannot reach {_where(url)} ({reason}); check the network, or use a mirror") from None
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise DownloadError(f"cannot fetch {url} ({type(e).__name__}: {e})") from None
    status = getattr(response, "status", None) or 200  # file: URLs have none
    length = response.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if start and status == 206:
        m = re.fullmatch(r"\s*bytes\s+(\d+)-\d+/(\d+|\*)\s*", response.headers.get("Content-Range", ""))
        if m is None or int(m[1]) != start:  # not the part asked for: ask for the whole file
            response.close()
            return _open(url, 0, timeout)
        total = int(m[2]) if m[2] != "*" else (start + length if length is not None else None)
        return response, start, total
    if status != 200:
        response.close()
        raise DownloadError(f"{_where(url)} answered HTTP {status} where the file was expected")
    return response, 0, length


def _refuse_web_page(url: str, response, chunk: bytes, part: Path) -> None:
    """A web page is not weights: Google Drive answers one to confirm large downloads."""
    kind = (response.headers.get("Content-Type") or "").lower()
    if kind.startswith(("text/html", "application/xhtml")) or chunk.lstrip()[:20].lower().startswith(_HTML_STARTS):
        raise WeightsError(f"{_where(url)} answered a web page instead of the weights (Google Drive does this for "
                           f"large files); download {part.name[:-len(PART_SUFFIX)]} by hand into {part.parent}, or give "
                           "a mirror with --mirror or FCN_WORKBENCH_MIRROR")


def _cut(url: str, done: int, total: int | None, part: Path, error: BaseException | None) -> DownloadError:
    of = f" of {total / 1e6:.1f}" if total else ""
    why = f" ({type(error).__name__})" if error is not None else ""
    return DownloadError(f"the connection to {_where(url)} broke after {done / 1e6:.1f}{of} MB{why}; {part} keeps "
                         "what came, and getting it again resumes from there")


def _where(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or (parts.scheme + ":" + parts.path if parts.scheme else url)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass
