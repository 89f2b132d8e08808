"""A small HTTP file server on 127.0.0.1 for download tests: Range requests, and the ways servers misbehave
(ignoring Range, cutting the connection mid-body, answering a web page, an interrupt mid-transfer)."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Served:
    """One file and how the server behaves when it sends it."""

    data: bytes
    content_type: str = "application/octet-stream"
    ignore_range: bool = False  # always 200 with the whole file
    cut_after: int | None = None  # the next response closes the connection after this many body bytes (once)
    interrupt_after: int | None = None  # after this many body bytes, SIGINT to this process, a pause, then the rest (once)
    pause_after: int | None = None  # after this many body bytes, a pause of a second, then the rest (once)


@dataclass
class FileServer:
    """``with FileServer({"a.pth": Served(b"...")}) as server: server.url + "/a.pth"``; ``requests`` lists
    (file name, Range header or None) as they came."""

    files: dict[str, Served]
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def __enter__(self) -> "FileServer":
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def ranges(self, name: str) -> list[str | None]:
        return [r for n, r in self.requests if n == name]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        owner: FileServer = self.server.owner  # type: ignore[attr-defined]
        name = self.path.split("?", 1)[0].lstrip("/")
        asked = self.headers.get("Range")
        owner.requests.append((name, asked))
        served = owner.files.get(name)
        if served is None:
            self.send_error(404)
            return
        data, start = served.data, 0
        m = re.fullmatch(r"bytes=(\d+)-", asked or "")
        if m and not served.ignore_range:
            start = int(m[1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", served.content_type)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        try:
            if served.cut_after is not None:
                n, served.cut_after = served.cut_after, None
                self.wfile.write(body[:n])
                self.close_connection = True
                return
            if served.interrupt_after is not None:
                n, served.interrupt_after = served.interrupt_after, None
                self.wfile.write(body[:n])
                self.wfile.flush()
                time.sleep(0.3)  # the client has read what it can and waits for more
                os.kill(os.getpid(), signal.SIGINT)  # as Ctrl+C in the terminal: delivered to the main thread
                time.sleep(0.3)
                body = body[n:]
            if served.pause_after is not None:
                n, served.pause_after = served.pause_after, None
                self.wfile.write(body[:n])
                self.wfile.flush()
                time.sleep(1.0)
                body = body[n:]
            self.wfile.write(body)
        except OSError:  # the client went away (a cancel)
            self.close_connection = True

    def log_message(self, *args) -> None:
        pass
