"""load_audio / extract_audio from every container and sample format, against a known reference signal."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest

from tfk import errors
from tfk.media import extract_audio, load_audio, probe
from tfk.testing import synth

SECONDS = 3.0


def _media_dir() -> Path:
    env = os.environ.get("TFK_SHARED_MEDIA")
    return Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "media"


@pytest.fixture(scope="module")
def media_dir() -> Path:
    d = _media_dir()
    if not (d / "RD_Radio34_002.wav").is_file():
        pytest.skip(f"shared media not found in {d}")
    return d


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return synth.synthetic_speech(SECONDS, 16000)


def _best_corr(x: np.ndarray, ref: np.ndarray, max_lag: int = 160) -> tuple[float, int]:
    """Highest normalised correlation over lags within +-10 ms (codec delays), and that lag."""
    n = min(len(x), len(ref)) - 2 * max_lag
    r = ref[max_lag : max_lag + n]
    best = (-1.0, 0)
    for lag in range(-max_lag, max_lag + 1):
        seg = x[max_lag + lag : max_lag + lag + n]
        c = float(np.dot(seg, r) / (np.linalg.norm(seg) * np.linalg.norm(r) + 1e-12))
        best = max(best, (c, lag))
    return best


# fmt, suffix, rate, channels, min correlation, expected codec
FORMATS = [
    ("wav", ".wav", 48000, 2, 0.999, "pcm_s16le"),
    ("wav", ".wav", 22050, 1, 0.999, "pcm_s16le"),
    ("wav_float", ".wav", 48000, 2, 0.999, "pcm_f32le"),
    ("wav_extensible", ".wav", 48000, 2, 0.999, "pcm_s16le"),
    ("m4a", ".m4a", 48000, 2, 0.98, "aac"),
    ("mp3", ".mp3", 48000, 2, 0.98, "mp3"),
]


@pytest.mark.parametrize(("fmt", "suffix", "rate", "channels", "min_corr", "codec"), FORMATS)
def test_load_audio_formats(
    tmp_path: Path, reference: np.ndarray, fmt: str, suffix: str, rate: int, channels: int, min_corr: float, codec: str
) -> None:
    path = synth.make_audio_file(tmp_path / f"speech{suffix}", seconds=SECONDS, rate=rate, channels=channels, fmt=fmt)
    info = probe(path)
    assert info.audio_rate == rate and info.audio_channels == channels
    assert info.audio_codec is not None and info.audio_codec.startswith(codec)
    audio = load_audio(path, sr=16000)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) / 16000 == pytest.approx(SECONDS, rel=0.01)
    corr, lag = _best_corr(audio, reference)
    assert corr > min_corr, (corr, lag)
    assert abs(lag) <= 16  # within 1 ms: codec priming is compensated
    # channel c is speech * (1 - 0.2 c): the mono mix keeps the level of the mean gain
    gain = np.mean([1.0 - 0.2 * c for c in range(channels)])
    level = np.std(audio) / (gain * np.std(reference))
    assert level == pytest.approx(1.0, abs=0.05)


def test_wave_format_extensible_header(tmp_path: Path) -> None:
    path = synth.make_audio_file(tmp_path / "x.wav", seconds=0.5, fmt="wav_extensible")
    head = path.read_bytes()[:64]
    assert head[:4] == b"RIFF" and head[8:12] == b"WAVE"
    assert struct.unpack("<H", head[20:22])[0] == 0xFFFE


def test_other_rates(tmp_path: Path) -> None:
    path = synth.make_audio_file(tmp_path / "a.wav", seconds=1.0, rate=44100, channels=1)
    for sr in (8000, 16000, 22050, 44100):
        assert len(load_audio(path, sr=sr)) == pytest.approx(sr, rel=0.01)


def test_load_audio_from_video_clip(tmp_path: Path) -> None:
    clip = synth.make_talking_clip(tmp_path / "clip.mp4", seconds=2.0, size=128)
    audio = load_audio(clip)
    assert len(audio) / 16000 == pytest.approx(2.0, rel=0.01)
    corr, _ = _best_corr(audio, synth.synthetic_speech(2.0, 16000))
    assert corr > 0.98


def test_load_audio_without_audio_stream(tmp_path: Path) -> None:
    path = synth.make_video_only(tmp_path / "silent.mp4", seconds=1.0)
    with pytest.raises(errors.MissingStream, match="has no audio stream"):
        load_audio(path)


def test_load_audio_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(errors.InputNotFound):
        load_audio(tmp_path / "missing.wav")
    with pytest.raises(errors.NotMediaFile):
        load_audio(synth.make_not_media(tmp_path / "fake.wav"))
    with pytest.raises(errors.ZeroDuration):
        load_audio(synth.make_zero_length(tmp_path / "zero.wav", kind="wav"))


def test_extract_audio_writes_16k_mono_float_wav(tmp_path: Path, reference: np.ndarray) -> None:
    src = synth.make_audio_file(tmp_path / "in.m4a", seconds=SECONDS, fmt="m4a")
    dst = extract_audio(src, tmp_path / "out" / "speech.wav")
    assert dst == tmp_path / "out" / "speech.wav"
    assert sorted(p.name for p in dst.parent.iterdir()) == ["speech.wav"]  # no temp left behind
    info = probe(dst)
    assert (info.audio_codec, info.audio_rate, info.audio_channels) == ("pcm_f32le", 16000, 1)
    again = load_audio(dst)
    np.testing.assert_array_equal(again, load_audio(src))  # float WAV is lossless
    assert _best_corr(again, reference)[0] > 0.98


def test_extract_audio_failure_leaves_nothing(tmp_path: Path) -> None:
    src = synth.make_video_only(tmp_path / "silent.mp4", seconds=1.0)
    with pytest.raises(errors.MissingStream):
        extract_audio(src, tmp_path / "out.wav")
    assert not (tmp_path / "out.wav").exists()


def test_shared_media_audio(media_dir: Path) -> None:
    import wave

    wav = media_dir / "RD_Radio34_002.wav"
    audio = load_audio(wav)
    with wave.open(str(wav)) as w:
        raw = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels())
    expected = raw.astype(np.float32).mean(axis=1) / 32768.0
    assert len(audio) == len(expected) == 8 * 16000
    np.testing.assert_allclose(audio, expected, atol=1e-6)
    from_mp4 = load_audio(media_dir / "WDA_KatieHill_000.mp4")
    assert len(from_mp4) / 16000 == pytest.approx(8.0, rel=0.01)
    assert np.abs(load_audio(media_dir / "WDA_KatieHill_000.mp4", sr=8000)).max() > 0.01
