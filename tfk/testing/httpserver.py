"""A local HTTP server for tests: serves bytes on 127.0.0.1, counts requests, injects faults.

>>> with LocalHTTPServer({"/a.bin": b"data"}) as srv:
...     srv.fault("/a.bin", drop_after=2, times=1)   # first GET closes the connection after 2 bytes
...     url = srv.url("/a.bin")

Faults per path (each applies to the first ``times`` GETs, or to every GET when ``times=None``):
``status`` (answer with this HTTP status, e.g. 500), ``drop_after`` (send the headers and N bytes of
the body, then close the connection), ``corrupt`` (flip bytes in the body, same length), ``delay``
(seconds to wait before answering), ``chunk_delay`` (seconds between 64 KiB chunks of the body),
``ignore_range`` (answer 200 with the whole body to a Range request), ``no_length`` (send no
Content-Length: the end of the body is the closing of the connection, so with ``drop_after`` the
client cannot tell a short body from a complete one).
Range requests (``bytes=a-``, ``bytes=a-b``) get 206 answers.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

__all__ = ["Fault", "LocalHTTPServer"]


@dataclass
class Fault:
    status: int | None = None
    drop_after: int | None = None
    corrupt: bool = False
    delay: float = 0.0
    ignore_range: bool = False
    chunk_delay: float = 0.0  # seconds to sleep after each 64 KiB of body (a slow server)
    no_length: bool = False  # no Content-Length header; the body ends when the connection closes
    times: int | None = 1  # None: every request


def _corrupt(data: bytes) -> bytes:
    if not data:
        return data
    buf = bytearray(data)
    for i in range(0, len(buf), max(1, len(buf) // 7)):
        buf[i] ^= 0xFF
    return bytes(buf)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        owner = self.server.owner
        path = unquote(urlparse(self.path).path)
        fault = owner._take_fault(path, count=not head)
        if fault and fault.delay:
            time.sleep(fault.delay)
        data = owner._lookup(path)
        if fault and fault.status:
            self._reply_empty(fault.status)
            return
        if data is None:
            self._reply_empty(404)
            return
        start, end, status = 0, len(data), 200
        rng = self.headers.get("Range")
        if rng and not (fault and fault.ignore_range):
            parsed = _parse_range(rng, len(data))
            if parsed is None:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start, end = parsed
            status = 206
        body = data[start:end]
        if fault and fault.corrupt:
            body = _corrupt(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        if fault and fault.no_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        self.end_headers()
        if head:
            return
        if fault and fault.drop_after is not None:
            self.wfile.write(body[: fault.drop_after])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault and fault.chunk_delay:
            for i in range(0, len(body), 1 << 16):
                self.wfile.write(body[i : i + (1 << 16)])
                self.wfile.flush()
                time.sleep(fault.chunk_delay)
            return
        self.wfile.write(body)

    def _reply_empty(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    unit, _, spec = header.partition("=")
    if unit.strip() != "bytes" or "," in spec:
        return None
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            n = int(last)
            return (max(size - n, 0), size) if n > 0 else None
        a = int(first)
        b = int(last) + 1 if last else size
    except ValueError:
        return None
    if a >= size or b <= a:
        return None
    return a, min(b, size)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: LocalHTTPServer


class LocalHTTPServer:
    """Threaded HTTP server on 127.0.0.1 with a random port. Use as a context manager or start()/stop()."""

    def __init__(self, files: dict[str, bytes] | Path | str | None = None, *, root: Path | str | None = None):
        """``files``: a dict path -> bytes, or a directory to serve; ``root``: a directory (files under it)."""
        self.files: dict[str, bytes] = {}
        self.root: Path | None = None
        self.requests: Counter[str] = Counter()
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        if isinstance(files, dict):
            for k, v in files.items():
                self.add(k, v)
        elif files is not None:
            self.root = Path(files)
        if root is not None:
            self.root = Path(root)

    # -- content and faults ---------------------------------------------------------------------
    def add(self, path: str, data: bytes) -> str:
        """Serve ``data`` at ``path``; returns its URL once started (the path otherwise)."""
        path = "/" + path.lstrip("/")
        with self._lock:
            self.files[path] = bytes(data)
        return self.url(path) if self._httpd else path

    def fault(self, path: str, **kwargs: object) -> Fault:
        """Inject a fault for ``path`` (see :class:`Fault`); replaces any previous one."""
        f = Fault(**kwargs)  # type: ignore[arg-type]
        with self._lock:
            self._faults["/" + path.lstrip("/")] = f
        return f

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def hits(self, path: str) -> int:
        """How many GET requests ``path`` received (faulty ones included)."""
        with self._lock:
            return self.requests["/" + path.lstrip("/")]

    def _take_fault(self, path: str, count: bool) -> Fault | None:
        with self._lock:
            if count:
                self.requests[path] += 1
            f = self._faults.get(path)
            if f is None:
                return None
            if f.times is not None:
                if f.times <= 0:
                    return None
                if count:
                    f.times -= 1
            return f

    def _lookup(self, path: str) -> bytes | None:
        with self._lock:
            if path in self.files:
                return self.files[path]
        if self.root is not None:
            p = (self.root / path.lstrip("/")).resolve()
            if self.root.resolve() in p.parents and p.is_file():
                return p.read_bytes()
        return None

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return self._httpd.server_address[1]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def start(self) -> LocalHTTPServer:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="tfk-test-http", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> LocalHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
