"""normalize_video and the ffmpeg helpers."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import av
import numpy as np
import pytest

from tfk import errors
from tfk.media import (
    FFmpegFailed,
    FFmpegNotFound,
    ffmpeg_encoders,
    ffmpeg_exe,
    iter_frames,
    load_audio,
    normalize_video,
    preflight,
    probe,
    run_ffmpeg,
)
from tfk.testing import synth


def _media_dir() -> Path:
    env = os.environ.get("TFK_SHARED_MEDIA")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "media"


@pytest.fixture(scope="module")
def odd_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synth.make_odd_clip(tmp_path_factory.mktemp("norm") / "odd.mp4", 161, 121, fps=30, seconds=2.0)


def _pix_fmt(path: Path) -> str:
    with av.open(str(path)) as c:
        return c.streams.video[0].codec_context.pix_fmt


def test_30fps_odd_to_25fps_even(tmp_path: Path, odd_clip: Path) -> None:
    src = probe(odd_clip)
    assert (src.width, src.height, src.fps, src.n_frames) == (161, 121, 30.0, 60)
    out = normalize_video(odd_clip, tmp_path / "n.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.mp4"]
    info = preflight(out, video=True, audio=True)
    assert (info.width, info.height) == (160, 120)
    assert info.fps == pytest.approx(25.0)
    assert info.n_frames == 50
    assert info.video_codec == "h264" and _pix_fmt(out) == "yuv420p"
    assert info.audio_codec == "aac"
    assert info.video_duration == pytest.approx(2.0, abs=0.04)
    assert len(load_audio(out)) / 16000 == pytest.approx(2.0, rel=0.02)
    with av.open(str(out)) as c:  # constant frame rate: pts step exactly one frame
        s = c.streams.video[0]
        pts = sorted(p.pts for p in c.demux(s) if p.pts is not None)
        steps = {round(float((b - a) * s.time_base), 6) for a, b in itertools.pairwise(pts)}
    assert steps == {0.04}


def test_crop_and_size(tmp_path: Path, odd_clip: Path) -> None:
    out = normalize_video(odd_clip, tmp_path / "c.mp4", crop=(20, 10, 100, 80), size=(50, 40), audio=False)
    info = probe(out)
    assert (info.width, info.height, info.has_audio) == (50, 40, False)
    import cv2

    first_src = next(iter(iter_frames(odd_clip)))
    want = cv2.resize(first_src[10:90, 20:120], (50, 40), interpolation=cv2.INTER_AREA).astype(float)
    got = next(iter(iter_frames(out))).astype(float)
    assert np.abs(got - want).mean() < 8  # the right region, not just the right size


def test_keep_rate_and_odd_size_request(tmp_path: Path, odd_clip: Path) -> None:
    out = normalize_video(odd_clip, tmp_path / "k.mp4", fps=None, size=(65, 33))
    info = probe(out)
    assert (info.width, info.height, info.n_frames) == (64, 32, 60)
    assert info.fps == pytest.approx(30.0)


def test_normalise_errors(tmp_path: Path, odd_clip: Path) -> None:
    with pytest.raises(errors.UsageError, match="crop"):
        normalize_video(odd_clip, tmp_path / "x.mp4", crop=(100, 0, 100, 50))
    with pytest.raises(errors.InputNotFound):
        normalize_video(tmp_path / "missing.mp4", tmp_path / "x.mp4")
    with pytest.raises(errors.NotMediaFile):
        normalize_video(synth.make_not_media(tmp_path / "fake.mp4"), tmp_path / "x.mp4")
    with pytest.raises(errors.MissingStream):
        normalize_video(synth.make_audio_file(tmp_path / "a.wav", seconds=0.5), tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_ffmpeg_helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Path(ffmpeg_exe()).is_file()
    assert {"libx264", "aac"} <= ffmpeg_encoders()
    bad = synth.make_not_media(tmp_path / "fake.mp4")
    with pytest.raises(FFmpegFailed) as exc:
        run_ffmpeg(["-i", bad, "-f", "null", "-"], what="decoding fake.mp4")
    assert isinstance(exc.value, errors.BadInput)
    msg = str(exc.value)
    assert msg.startswith("decoding fake.mp4 failed: ") and "\n" not in msg and len(msg) > 30
    monkeypatch.setenv("TFK_FFMPEG", str(tmp_path / "no-such-ffmpeg"))
    with pytest.raises(FFmpegNotFound):
        ffmpeg_exe()


def test_shared_clip(tmp_path: Path) -> None:
    src = _media_dir() / "WDA_KatieHill_000.mp4"
    if not src.is_file():
        pytest.skip(f"shared media not found: {src}")
    out = normalize_video(src, tmp_path / "k.mp4", crop=(128, 64, 256, 256), size=(128, 128))
    info = preflight(out, audio=True)
    assert (info.width, info.height, info.n_frames, info.video_codec) == (128, 128, 200, "h264")
    assert info.audio_codec == "aac" and abs(info.audio_duration - 8.0) < 0.05
