"""``tfk serve lawdnet``: an HTTP service that dubs one fixed template with uploaded audio.

* the template is preprocessed (landmarks, crops) and the model loaded once, at start-up;
* ``POST /dub`` (multipart field ``audio``; ``file`` is accepted too, as the original ``/upload-audio``
  client sends it) returns ``video/mp4``; ``/upload-audio`` is an alias;
* requests are queued to a single model worker (``max_queue`` waiting at most, else 503);
* uploads are size-limited (413), stored under a server-chosen temp name (the client's file name is
  never used as a path), and checked with the media preflight: bad uploads get a 4xx with the message;
* ``GET /health`` reports readiness; the default bind is loopback (127.0.0.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request  # module level: FastAPI resolves the handler's annotation here

from tfk.errors import BadInput, TfkError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tfk.progress import Progress
    from tfk_lawdnet.infer import Dubber

__all__ = ["create_app", "serve"]

log = logging.getLogger("tfk.lawdnet.serve")
_CHUNK = 1 << 20
_MULTIPART_SLACK = 64 << 10  # multipart headers and boundaries around the file


class _UploadTooLarge(Exception):
    """The request body passed the upload limit while it was being received."""


def _limited(request: Request, limit: int) -> Request:
    """The same request whose body stream stops with :class:`_UploadTooLarge` past ``limit`` bytes.

    Counted as the bytes arrive (chunked uploads have no Content-Length), so an oversized upload is
    refused after at most ``limit`` bytes instead of being spooled to disk whole first.
    """
    receive = request.receive
    received = 0

    async def counting_receive():
        nonlocal received
        message = await receive()
        if message.get("type") == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _UploadTooLarge
        return message

    return Request(request.scope, counting_receive)


def create_app(
    template: str | os.PathLike[str],
    checkpoint: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    *,
    batch_size: int | None = None,
    max_upload_mb: float = 50,
    max_audio_seconds: float = 600,
    max_queue: int = 8,
    audio_frontend: str | None = None,
    mouth: int | None = None,
    grid_size: int | None = None,
    require: Callable[[str], Path] | None = None,
    dubber: Dubber | None = None,
    cache_root: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    face: str | None = None,
) -> FastAPI:
    """Build the FastAPI app; loads the model and preprocesses ``template`` before returning."""
    from fastapi import FastAPI
    from fastapi.responses import FileResponse, JSONResponse
    from starlette.background import BackgroundTask

    from tfk_lawdnet.infer import load_dubber

    if dubber is None:
        dubber = load_dubber(
            checkpoint, device, audio_frontend, batch_size, mouth=mouth, grid_size=grid_size, require=require
        )
    tpl = dubber.prepare(template, progress=progress, cache_root=cache_root, face=face)
    limit = int(max_upload_mb * (1 << 20))
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lawdnet-model")
    state: dict[str, Any] = {"pending": 0, "served": 0}
    lock = threading.Lock()
    work_root = Path(tempfile.mkdtemp(prefix="tfk-lawdnet-serve-"))

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        worker.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(work_root, ignore_errors=True)

    app = FastAPI(title="tfk lawdnet", version="0.1.0", lifespan=lifespan)
    app.state.dubber = dubber
    app.state.template = tpl

    def _client_name(name: str | None) -> str:
        """The upload's own file name as the client sent it (base name only), for messages."""
        base = Path(str(name or "").replace("\\", "/")).name.strip()
        return repr(base[:80]) if base else "the upload"

    def _without_server_paths(message: str, job: Path, shown: str) -> str:
        """A message for the client: the job's files are named by the upload's name, never by server path."""
        for p in (job / "upload.bin", job):
            message = message.replace(str(p.resolve()), shown).replace(str(p), shown)
        return message.replace("upload.bin", shown)

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "model": "lawdnet",
            "template": Path(template).name,
            "template_frames": tpl.n_frames,
            "device": dubber.device,
            "audio_frontend": dubber.frontend,
            "mouth": dubber.mouth,
            "queued": state["pending"],
            "served": state["served"],
            "max_upload_mb": max_upload_mb,
        }

    async def _save_upload(request: Request, dest: Path) -> JSONResponse | None:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit + (64 << 10):
            return error(413, f"upload too large: {int(length) / (1 << 20):.1f} MB > {max_upload_mb:g} MB")
        try:
            form = await _limited(request, limit + _MULTIPART_SLACK).form(max_files=1, max_fields=8)
        except _UploadTooLarge:
            return error(413, f"upload too large: more than {max_upload_mb:g} MB")
        except Exception as exc:  # malformed multipart bodies
            return error(400, f"expected a multipart/form-data upload with an 'audio' file field ({exc})")
        upload = form.get("audio") or form.get("file")
        if upload is None or isinstance(upload, str):
            return error(400, "no audio file in the request: send it as the multipart field 'audio'")
        request.state.upload_name = _client_name(getattr(upload, "filename", None))
        size = 0
        with dest.open("wb") as fh:
            while chunk := await upload.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    return error(413, f"upload too large: more than {max_upload_mb:g} MB")
                fh.write(chunk)
        await upload.close()
        if size == 0:
            return error(400, "the uploaded audio file is empty")
        return None

    def _check_audio(path: Path) -> None:
        from tfk.media import preflight

        info = preflight(path, video=False, audio=True)
        if info.duration and info.duration > max_audio_seconds:
            raise BadInput(f"audio is {info.duration:.0f} s long; this server accepts at most {max_audio_seconds:g} s")

    def _run(audio: Path, out: Path) -> Path:
        _check_audio(audio)
        return dubber.dub(tpl, audio, out)

    async def dub(request: Request):
        with lock:
            if state["pending"] >= max_queue:
                return error(503, f"server busy: {max_queue} requests already queued, retry later")
            state["pending"] += 1
        job = Path(tempfile.mkdtemp(prefix="job-", dir=work_root))
        cleanup = BackgroundTask(shutil.rmtree, job, True)
        try:
            problem = await _save_upload(request, job / "upload.bin")
            if problem is not None:
                shutil.rmtree(job, ignore_errors=True)
                return problem
            out = job / "dubbed.mp4"
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(worker, _run, job / "upload.bin", out)
            except TfkError as exc:
                shutil.rmtree(job, ignore_errors=True)
                status = 400 if isinstance(exc, BadInput) else 500
                text = _without_server_paths(exc.message, job, getattr(request.state, "upload_name", "the upload"))
                msg = text if status == 400 else f"dubbing failed: {text}"
                return error(status, ("bad upload: " if status == 400 else "") + msg)
            except Exception as exc:  # a bug: say so, keep serving
                log.exception("dubbing failed")
                shutil.rmtree(job, ignore_errors=True)
                return error(500, f"internal error while dubbing ({type(exc).__name__})")
            state["served"] += 1
            name = f"{Path(template).stem}_lawdnet.mp4"
            return FileResponse(out, media_type="video/mp4", filename=name, background=cleanup)
        finally:
            with lock:
                state["pending"] -= 1

    app.add_api_route("/dub", dub, methods=["POST"], summary="Dub the template with an uploaded audio file")
    app.add_api_route("/upload-audio", dub, methods=["POST"], summary="Alias of /dub (the original API)")

    return app


def bind_socket(host: str, port: int):
    """A listening TCP socket on ``host:port`` (``port`` 0: a free ephemeral port), or a one-line error.

    Bound before the model loads, so a port in use or a bad ``--host`` fails at once: an unknown or
    foreign address is a usage error (2); a port in use or forbidden is :class:`~tfk.errors.Unavailable` (69).
    """
    import errno
    import ipaddress
    import socket

    from tfk.errors import Unavailable, UsageError

    if not 0 <= int(port) <= 65535:
        raise UsageError(f"--port must be 0..65535 (0 picks a free port), got {port}")
    try:  # an address literal needs no resolver
        ip = ipaddress.ip_address(host.strip("[]"))
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        addr: tuple = (str(ip), int(port))
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        except (socket.gaierror, UnicodeError) as exc:
            raise UsageError(f"--host {host!r} is not a valid address or host name ({exc})") from None
        family, _, _, _, addr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise Unavailable(
                f"port {port} on {host} is already in use",
                hint="stop the other service, or choose another --port (--port 0 picks a free one)",
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise UsageError(f"--host {host} is not an address of this machine") from None
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise Unavailable(f"not allowed to listen on port {port} of {host}", hint="use a port above 1023") from None
        raise Unavailable(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def serve(
    template: str | os.PathLike[str],
    checkpoint: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    host: str = "127.0.0.1",
    port: int = 5828,
    **kwargs: Any,
) -> None:
    """Run :func:`create_app` under uvicorn until interrupted (Ctrl-C). ``port`` 0 picks a free port."""
    import uvicorn

    from tfk.console import info

    sock = bind_socket(host, port)  # before the model loads: a bad address fails in a moment
    try:
        if host not in ("127.0.0.1", "localhost", "::1"):
            log.warning("serving on %s: the service has no authentication; anyone who can reach it can use it", host)
        app = create_app(template, checkpoint, device, **kwargs)
        bound = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        info(f"lawdnet service on http://{shown}:{bound} (POST /dub, GET /health); Ctrl-C stops it")
        config = uvicorn.Config(app, host=host, port=bound, log_level="info", workers=1)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
