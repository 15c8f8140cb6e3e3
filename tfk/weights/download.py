"""Streaming download of one URL into a file while hashing, with timeouts, retries and Range resume.

Only the standard library is used (urllib). ``http(s)://`` and ``file://`` URLs are supported. A
failure is either :class:`TransientError` (worth another source later: network trouble that survived
the retries) or :class:`SourceError` (this source cannot serve the file: 404, 403, missing file).
Proxy variables (``HTTPS_PROXY``/``NO_PROXY``) are honoured by urllib; a CA bundle can be given with
``SSL_CERT_FILE`` or ``REQUESTS_CA_BUNDLE``. Certificates are always verified.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from tfk.errors import OfflineError
from tfk.weights import config

log = logging.getLogger("tfk.weights")

CHUNK = 1 << 20
USER_AGENT = "tfk-weights/1 (+https://github.com/tfk)"
_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}
_MAX_ATTEMPTS = 100  # hard cap, even when every attempt makes progress

ProgressFn = Callable[[int, int | None], None]  # (bytes just received, total or None)


class SourceError(Exception):
    """This source cannot serve the file (HTTP 4xx, missing local file)."""


class TransientError(Exception):
    """The network failed even after retries (timeouts, resets, 5xx, short reads)."""


@dataclass
class Fetched:
    sha256: str
    size: int


def _local(exc: OSError, url: str, dest: Path) -> Exception:
    """A failure writing the local file: ENOSPC is DiskFull (never retried as a network error)."""
    from tfk.errors import OutputNotWritable
    from tfk.fsutil import disk_error

    mapped = disk_error(exc, url, "downloading", where=dest.parent)
    return mapped or OutputNotWritable(f"cannot write the download of {url} in {dest.parent}: {exc.strerror}")


class _Sink:
    """The destination file; every local I/O error leaves as a tfk error, not as a network OSError."""

    def __init__(self, url: str, dest: Path):
        self.url, self.dest = url, dest
        try:
            self.fh = open(dest, "wb")  # noqa: SIM115 - closed in __exit__
        except OSError as exc:
            raise _local(exc, url, dest) from exc

    def __enter__(self) -> _Sink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.fh.close()

    def write(self, data: bytes) -> None:
        try:
            self.fh.write(data)
        except OSError as exc:
            raise _local(exc, self.url, self.dest) from exc

    def restart(self) -> None:
        self.fh.seek(0)
        self.fh.truncate()

    def sync(self) -> None:
        try:
            self.fh.flush()
            os.fsync(self.fh.fileno())
        except OSError as exc:
            raise _local(exc, self.url, self.dest) from exc


def is_network_url(url: str) -> bool:
    return urlparse(url).scheme in ("http", "https")


def fetch(
    url: str,
    dest: Path,
    *,
    expected_size: int | None = None,
    progress: ProgressFn | None = None,
    timeout: float | None = None,
    retries: int | None = None,
    backoff: float | None = None,
) -> Fetched:
    """Write the content of ``url`` to ``dest`` (created/truncated) and return its sha256 and size.

    The caller owns ``dest`` (a unique temporary name) and deletes it on failure. ``TFK_OFFLINE=1``
    refuses network URLs before any socket is created.
    """
    scheme = urlparse(url).scheme
    if scheme == "file":
        return _fetch_file(url, dest, progress)
    if scheme not in ("http", "https"):
        raise SourceError(f"unsupported URL scheme in {url}")
    if config.offline():
        raise OfflineError(f"TFK_OFFLINE=1: refusing to download {url}")
    return _fetch_http(
        url,
        dest,
        expected_size=expected_size,
        progress=progress,
        timeout=config.download_timeout() if timeout is None else timeout,
        retries=config.download_retries() if retries is None else retries,
        backoff=config.download_backoff() if backoff is None else backoff,
    )


def _fetch_file(url: str, dest: Path, progress: ProgressFn | None) -> Fetched:
    parsed = urlparse(url)
    path = Path(unquote(parsed.path))
    if parsed.netloc not in ("", "localhost"):
        raise SourceError(f"file URL with a host is not supported: {url}")
    try:
        src = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise SourceError(f"{path} does not exist") from None
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from None
    h = hashlib.sha256()
    n = 0
    total = os.fstat(src.fileno()).st_size
    with src, _Sink(url, dest) as out:
        while chunk := src.read(CHUNK):
            out.write(chunk)
            h.update(chunk)
            n += len(chunk)
            if progress:
                progress(len(chunk), total)
        out.sync()
    return Fetched(h.hexdigest(), n)


def _ssl_context() -> ssl.SSLContext:
    cafile = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE") or None
    return ssl.create_default_context(cafile=cafile)


def _fetch_http(
    url: str,
    dest: Path,
    *,
    expected_size: int | None,
    progress: ProgressFn | None,
    timeout: float,
    retries: int,
    backoff: float,
) -> Fetched:
    h = hashlib.sha256()
    received = 0
    total = expected_size
    failures = 0  # consecutive attempts without progress
    attempts = 0
    ctx = _ssl_context() if url.startswith("https:") else None
    with _Sink(url, dest) as out:
        while True:
            attempts += 1
            headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
            if received:
                headers["Range"] = f"bytes={received}-"
            before = received
            try:
                req = urllib.request.Request(url, headers=headers)
                with urllib.request.urlopen(req, timeout=timeout, context=ctx) as resp:
                    status = resp.status
                    if received and status != 206:
                        # The server ignored the Range request: start again from byte 0.
                        log.info("%s ignored the range request; restarting", url)
                        out.restart()
                        h = hashlib.sha256()
                        received = before = 0
                    length = resp.headers.get("Content-Length")
                    if length is not None and length.isdigit():
                        total = received + int(length)
                    while True:
                        chunk = resp.read(CHUNK)
                        if not chunk:
                            break
                        out.write(chunk)
                        h.update(chunk)
                        received += len(chunk)
                        if progress:
                            progress(len(chunk), total)
                    if total is not None and received < total:
                        raise http.client.IncompleteRead(b"", total - received)
                out.sync()
                return Fetched(h.hexdigest(), received)
            except urllib.error.HTTPError as exc:
                if exc.code == 416 and received:
                    # Our offset is past the end: the file changed or we already have it all. Restart.
                    out.restart()
                    h = hashlib.sha256()
                    received = 0
                    reason = "HTTP 416"
                elif exc.code in _TRANSIENT_STATUS:
                    reason = f"HTTP {exc.code}"
                else:
                    raise SourceError(f"HTTP {exc.code} {exc.reason} for {url}") from None
            except (urllib.error.URLError, http.client.HTTPException, TimeoutError, OSError) as exc:
                reason = _describe(exc)
                if _unresolvable(exc) and attempts >= 2:  # DNS says no: retrying for a minute will not help
                    raise TransientError(f"{url}: {reason} (gave up after {attempts} attempts)") from None
            if received > before:
                failures = 0
            else:
                failures += 1
            if failures > retries or attempts >= _MAX_ATTEMPTS:
                raise TransientError(f"{url}: {reason} (gave up after {attempts} attempts)")
            delay = min(backoff * (2 ** max(failures - 1, 0)), 30.0)
            log.info("%s: %s; retrying in %.1f s (%d bytes so far)", url, reason, delay, received)
            time.sleep(delay)


def _unresolvable(exc: BaseException) -> bool:
    """True when the host name does not resolve (no network, or a typo in a mirror URL)."""
    import socket

    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return isinstance(reason, socket.gaierror)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return f"{type(exc.reason).__name__}: {exc.reason}"
    if isinstance(exc, http.client.IncompleteRead):
        return f"connection closed early ({exc.expected} bytes missing)"
    return f"{type(exc).__name__}: {exc}"
