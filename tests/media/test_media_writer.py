"""VideoWriter / write_video: exact frame counts, A/V durations within one frame, fidelity, atomicity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tfk import errors
from tfk.media import FFmpegFailed, VideoWriter, count_frames, iter_frames, load_audio, probe, write_video
from tfk.testing import synth

FRAME = 1 / 25


@pytest.fixture(params=["ffmpeg", "pyav"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def source_frames(tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    clip = synth.make_talking_clip(tmp_path_factory.mktemp("writer") / "clip.mp4", seconds=2.0, size=128)
    return list(iter_frames(clip))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


def _only(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


@pytest.mark.parametrize("audio_seconds", [0.7, 1.48, 3.0])  # shorter (padded), equal, longer (trimmed)
def test_frames_and_av_durations(
    tmp_path: Path, source_frames: list[np.ndarray], audio_seconds: float, backend: str
) -> None:
    n = 37  # 1.48 s: not a whole number of AAC frames
    speech = synth.synthetic_speech(audio_seconds, 16000)
    path = tmp_path / "out.mp4"
    with VideoWriter(path, fps=25, audio=speech, backend=backend) as w:
        for f in source_frames[:n]:
            w.write(f)
        assert w.frames_written == n
    assert _only(tmp_path) == ["out.mp4"]
    assert count_frames(path, exact=True) == n
    info = probe(path)
    assert info.video_codec == "h264" and info.audio_codec == "aac" and info.audio_rate == 16000
    assert info.video_duration == pytest.approx(n / 25, abs=1e-6)
    assert abs(info.audio_duration - info.video_duration) <= FRAME
    decoded = load_audio(path)
    assert abs(len(decoded) / 16000 - n / 25) <= FRAME
    m = min(len(decoded), len(speech), round(min(audio_seconds, n / 25) * 16000))
    corr = np.corrcoef(decoded[:m], speech[:m])[0, 1]
    assert corr > 0.95
    if audio_seconds < n / 25:  # the padding is silence
        assert np.abs(decoded[round((audio_seconds + 0.1) * 16000) :]).max() < 0.02


def test_audio_from_file_and_no_audio(tmp_path: Path, source_frames: list[np.ndarray], backend: str) -> None:
    wav = synth.make_audio_file(tmp_path / "a.wav", seconds=2.0, rate=48000, channels=2)
    with_audio = write_video(tmp_path / "a.mp4", source_frames, fps=25, audio=wav, backend=backend)
    info = probe(with_audio)
    assert info.n_frames == 50 and info.audio_rate == 16000 and info.audio_channels == 1
    assert abs(info.audio_duration - 2.0) <= FRAME
    silent = write_video(tmp_path / "s.mp4", iter(source_frames[:10]), fps=30, backend=backend)
    info = probe(silent)
    assert not info.has_audio and info.n_frames == 10 and info.fps == pytest.approx(30.0)


def test_fidelity(tmp_path: Path, source_frames: list[np.ndarray], backend: str) -> None:
    path = write_video(tmp_path / "f.mp4", source_frames[:20], fps=25, crf=18, backend=backend)
    back = list(iter_frames(path))
    assert len(back) == 20
    assert min(_psnr(a, b) for a, b in zip(back, source_frames[:20], strict=True)) > 35


def test_odd_size_is_padded_to_even(tmp_path: Path, source_frames: list[np.ndarray], backend: str) -> None:
    frames = [f[:101, :77] for f in source_frames[:5]]
    path = write_video(tmp_path / "odd.mp4", frames, backend=backend)
    info = probe(path)
    assert (info.width, info.height) == (78, 102)
    back = next(iter(iter_frames(path)))
    assert _psnr(back[:101, :77], frames[0]) > 33


def test_exception_inside_with_leaves_nothing(tmp_path: Path, source_frames: list[np.ndarray], backend: str) -> None:
    out = tmp_path / "boom.mp4"
    with (
        pytest.raises(RuntimeError, match="boom"),
        VideoWriter(out, audio=synth.synthetic_speech(1.0), backend=backend) as w,
    ):
        for f in source_frames[:10]:
            w.write(f)
        raise RuntimeError("boom")
    assert _only(tmp_path) == []


def test_failed_rewrite_keeps_the_old_file(tmp_path: Path, source_frames: list[np.ndarray], backend: str) -> None:
    out = write_video(tmp_path / "keep.mp4", source_frames[:5], backend=backend)
    before = out.read_bytes()
    with pytest.raises(KeyboardInterrupt), VideoWriter(out, backend=backend) as w:
        w.write(source_frames[0])
        raise KeyboardInterrupt
    assert out.read_bytes() == before
    assert _only(tmp_path) == ["keep.mp4"]


def test_bad_frames(tmp_path: Path, source_frames: list[np.ndarray], backend: str) -> None:
    with pytest.raises(errors.BadInput, match="uint8"), VideoWriter(tmp_path / "x.mp4", backend=backend) as w:
        w.write(source_frames[0].astype(np.float32))
    with pytest.raises(errors.BadInput, match="earlier frames"), VideoWriter(tmp_path / "x.mp4", backend=backend) as w:
        w.write(source_frames[0])
        w.write(source_frames[0][:64])
    with pytest.raises(errors.ZeroDuration, match="no frames"), VideoWriter(tmp_path / "x.mp4", backend=backend):
        pass
    assert _only(tmp_path) == []


def test_audio_path_errors_early(tmp_path: Path, backend: str) -> None:
    with pytest.raises(errors.InputNotFound):
        VideoWriter(tmp_path / "x.mp4", audio=tmp_path / "missing.wav", backend=backend)
    with pytest.raises(errors.MissingStream):
        VideoWriter(tmp_path / "x.mp4", audio=synth.make_video_only(tmp_path / "v.mp4", seconds=0.5), backend=backend)


def test_bad_suffix(tmp_path: Path) -> None:
    with pytest.raises(errors.UsageError, match=r"\.mp4"):
        VideoWriter(tmp_path / "x.xyz")


def test_ffmpeg_failure_is_reported_and_cleaned_up(
    tmp_path: Path, source_frames: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "fake-ffmpeg"
    fake.write_text("#!/bin/sh\ncat >/dev/null\necho 'first line' >&2\necho 'x264: disk on fire' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("TFK_FFMPEG", str(fake))
    out_dir = tmp_path / "out"
    with pytest.raises(FFmpegFailed, match="x264: disk on fire") as exc:
        write_video(out_dir / "x.mp4", source_frames[:5], audio=synth.synthetic_speech(0.5), backend="ffmpeg")
    assert "\n" not in str(exc.value)
    assert _only(out_dir) == []


def test_auto_backend_falls_back_to_pyav(
    tmp_path: Path, source_frames: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert VideoWriter(tmp_path / "a.mp4").backend == "ffmpeg"
    monkeypatch.setenv("TFK_FFMPEG", str(tmp_path / "no-such-ffmpeg"))
    w = VideoWriter(tmp_path / "b.mp4", audio=synth.synthetic_speech(0.4))
    assert w.backend == "pyav"
    with w:
        for f in source_frames[:10]:
            w.write(f)
    info = probe(tmp_path / "b.mp4")
    assert info.n_frames == 10 and abs(info.audio_duration - 0.4) <= FRAME
