"""The HTTP service answers real requests (uvicorn on 127.0.0.1, an ephemeral port, httpx client)."""

from __future__ import annotations

import threading
import time

import pytest


@pytest.fixture(scope="module")
def app(short_template, dubber, tmp_path_factory):
    from tfk_lawdnet.serve import create_app

    return create_app(short_template, dubber=dubber, max_upload_mb=0.5, cache_root=tmp_path_factory.mktemp("c"))


@pytest.fixture(scope="module")
def server(app):
    import uvicorn

    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.time() + 30
    while not srv.started:
        assert time.time() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join(timeout=10)


def test_health(server):
    import httpx

    r = httpx.get(f"{server}/health", timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["template_frames"] == 25 and body["audio_frontend"] == "dp2"


def test_post_wav_returns_the_dubbed_mp4(server, tmp_path):
    import httpx

    from tfk.media import count_frames, probe
    from tfk.testing.synth import make_audio_file

    wav = make_audio_file(tmp_path / "../../etc/passwd.wav".replace("/", "_"), seconds=0.8, rate=16000, channels=1)
    with wav.open("rb") as fh:
        r = httpx.post(f"{server}/dub", files={"audio": ("../../evil name.wav", fh, "audio/wav")}, timeout=120)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "video/mp4"
    out = tmp_path / "reply.mp4"
    out.write_bytes(r.content)
    info = probe(out)
    assert info.has_audio and count_frames(out, exact=True) == 20
    assert abs(info.audio_duration - info.video_duration) <= 0.04


def test_original_client_field_name_works(server, tmp_path):
    import httpx

    from tfk.testing.synth import make_audio_file

    wav = make_audio_file(tmp_path / "a.wav", seconds=0.2, rate=24000, channels=2)
    with wav.open("rb") as fh:
        r = httpx.post(f"{server}/upload-audio", files={"file": ("a.wav", fh, "audio/wav")}, timeout=120)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "files,status,words",
    [
        ({"audio": ("x.wav", b"this is not audio at all" * 10, "audio/wav")}, 400, "bad upload"),
        ({"audio": ("x.wav", b"", "audio/wav")}, 400, "empty"),
        ({"other": ("x.wav", b"abc", "audio/wav")}, 400, "audio"),
        ({"audio": ("big.wav", b"\0" * (1 << 20), "audio/wav")}, 413, "too large"),
    ],
)
def test_bad_uploads_get_a_4xx_with_a_message(server, files, status, words):
    import httpx

    r = httpx.post(f"{server}/dub", files=files, timeout=60)
    assert r.status_code == status
    assert words in r.json()["error"]
    assert httpx.get(f"{server}/health", timeout=10).status_code == 200  # still serving


def test_bad_upload_messages_name_the_upload_not_server_paths(server, tmp_path):
    import httpx

    files = {"audio": ("C:\\Users\\me\\my talk.wav", b"this is not audio at all" * 10, "audio/wav")}
    r = httpx.post(f"{server}/dub", files=files, timeout=60)
    assert r.status_code == 400
    msg = r.json()["error"]
    assert "'my talk.wav'" in msg
    assert "upload.bin" not in msg and "job-" not in msg


def test_video_without_audio_is_refused(server, tmp_path):
    import httpx

    from tfk.testing.synth import make_video_only

    v = make_video_only(tmp_path / "v.mp4", seconds=0.3, size=64)
    r = httpx.post(f"{server}/dub", files={"audio": ("v.mp4", v.read_bytes(), "video/mp4")}, timeout=60)
    assert r.status_code == 400 and "audio" in r.json()["error"]


def test_serve_hook_binds_loopback_by_default(short_template, tiny_weights, fake_require, monkeypatch, tmp_path):
    import uvicorn
    from tfk_lawdnet.plugin import tfk_model, tfk_serve

    from tfk.plugin import StageContext

    seen = {}

    def fake_run(self, sockets=None):
        seen.update(app=self.config.app, host=self.config.host, sockets=[s.getsockname() for s in sockets])

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    ctx = StageContext(model="lawdnet", stage="serve", home=tmp_path)
    ctx.require = fake_require
    defaults = {o.dest: o.default for o in tfk_model().options_for("serve")}
    assert (defaults["host"], defaults["port"]) == ("127.0.0.1", 5828)
    options = dict(
        defaults,
        template=short_template,
        checkpoint=str(tiny_weights["generator"]),
        mouth_size=64,
        grid_size=8,
        port=0,  # 0 is passed through: an ephemeral port, never silently 5828 (issue 9 item 8)
    )
    tfk_serve(ctx=ctx, options=options)
    (addr,) = seen["sockets"]
    assert seen["host"] == "127.0.0.1" and addr[0] == "127.0.0.1" and addr[1] not in (0, 5828)
    assert seen["app"].state.template.n_frames == 25


def test_port_in_use_or_bad_host_fail_before_the_model_loads(monkeypatch):
    import socket

    from tfk_lawdnet import serve as srv

    from tfk.errors import Unavailable, UsageError

    def must_not_load(*args, **kwargs):
        raise AssertionError("the model was loaded before the address was checked")

    monkeypatch.setattr(srv, "create_app", must_not_load)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        with pytest.raises(Unavailable, match=f"port {port} on 127.0.0.1 is already in use") as err:
            srv.serve("tpl.mp4", host="127.0.0.1", port=port)
        assert err.value.exit_code == 69 and "--port 0" in err.value.hint
    finally:
        taken.close()
    real = socket.getaddrinfo

    def no_dns(host, *args, **kwargs):  # the resolver's answer for a name that does not exist (no DNS in tests)
        if host == "no-such-host.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(UsageError, match="--host") as err:
        srv.serve("tpl.mp4", host="no-such-host.invalid", port=0)
    assert err.value.exit_code == 2
    with pytest.raises(UsageError, match="not an address of this machine"):
        srv.serve("tpl.mp4", host="203.0.113.7", port=0)  # TEST-NET-3: never local
    with pytest.raises(UsageError, match=r"0\.\.65535"):
        srv.serve("tpl.mp4", host="127.0.0.1", port=70000)


def test_chunked_upload_is_cut_off_at_the_limit(app):
    """A chunked upload (no Content-Length) is counted while it arrives: 413 after about the limit, not
    after spooling the whole body (issue 9 item 12). Driven through the ASGI interface to count reads."""
    import asyncio
    import json

    total = 40 << 20  # the client would send 40 MB; the limit is 0.5 MB
    head = b'--xyz\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n\r\n'
    pulled = 0
    sent: list[dict] = []

    async def receive():
        nonlocal pulled
        chunk = head if pulled == 0 else b"\0" * (64 << 10)
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": pulled < total}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/dub",
        "raw_path": b"/dub",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"test"),
            (b"content-type", b"multipart/form-data; boundary=xyz"),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 413 and "too large" in json.loads(body)["error"]
    assert pulled <= (1 << 20), f"read {pulled} bytes of a 40 MB upload before refusing it"
