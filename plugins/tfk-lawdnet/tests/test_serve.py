"""The HTTP service answers real requests (uvicorn on 127.0.0.1, an ephemeral port, httpx client)."""

from __future__ import annotations

import threading
import time

import pytest


@pytest.fixture(scope="module")
def server(short_template, dubber, tmp_path_factory):
    import uvicorn
    from tfk_lawdnet.serve import create_app

    app = create_app(short_template, dubber=dubber, max_upload_mb=0.5, cache_root=tmp_path_factory.mktemp("c"))
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
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    ctx = StageContext(model="lawdnet", stage="serve", home=tmp_path)
    ctx.require = fake_require
    defaults = {o.dest: o.default for o in tfk_model().options_for("serve")}
    options = dict(
        defaults, template=short_template, checkpoint=str(tiny_weights["generator"]), mouth_size=64, grid_size=8
    )
    tfk_serve(ctx=ctx, options=options)
    assert seen["host"] == "127.0.0.1" and seen["port"] == 5828
    assert seen["app"].state.template.n_frames == 25
