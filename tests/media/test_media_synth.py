"""The synthetic media generator itself: speech-like audio, the talking clip, speed."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from tfk.media import iter_frames, load_audio, preflight
from tfk.testing import synth


def test_speech_is_speech_like() -> None:
    x = synth.synthetic_speech(4.0, 16000, seed=0)
    assert x.dtype == np.float32 and len(x) == 64000
    assert np.abs(x).max() == pytest.approx(0.5, abs=1e-6)
    env = synth.mouth_envelope(x, 100)
    assert env.shape == (100,) and env.min() >= 0 and env.max() <= 1
    assert (env < 0.05).sum() >= 5 and (env > 0.5).sum() >= 20  # pauses and loud syllables
    # voiced: the autocorrelation peaks at a pitch period of ~120 Hz within a loud stretch
    seg = x[int(np.argmax(env)) * 640 :][:1600].astype(np.float64)
    ac = np.correlate(seg, seg, "full")[len(seg) - 1 :]
    lag = 16000 // 250 + int(np.argmax(ac[16000 // 250 : 16000 // 60]))
    assert 100 <= 16000 / lag <= 145
    # band-limited below 4 kHz
    spec = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / 16000)
    assert spec[freqs > 4200].sum() < 1e-6 * spec.sum()


def test_speech_is_rate_independent_and_seeded() -> None:
    from scipy.signal import resample_poly

    a = synth.synthetic_speech(2.0, 48000)
    b = synth.synthetic_speech(2.0, 16000)
    down = resample_poly(a, 1, 3)
    assert np.corrcoef(down, b)[0, 1] > 0.999
    assert np.array_equal(b, synth.synthetic_speech(2.0, 16000))
    assert not np.array_equal(b, synth.synthetic_speech(2.0, 16000, seed=1))


def test_talking_clip(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    path = synth.make_talking_clip(tmp_path / "clip.mp4")
    elapsed = time.perf_counter() - t0
    assert elapsed < 10  # ~1 s on 2 cores; generous for loaded CI machines
    info = preflight(path, video=True, audio=True)
    assert (info.width, info.height, info.fps, info.n_frames) == (256, 256, 25.0, 100)
    assert abs(info.audio_duration - 4.0) <= 0.04
    audio = load_audio(path)
    assert np.corrcoef(audio[:63000], synth.synthetic_speech(4.0)[:63000])[0, 1] > 0.98


def test_mouth_moves_with_the_audio(tmp_path: Path) -> None:
    """Without head jitter the only motion is the mouth warp, so mouth-region change tracks the envelope."""
    path = synth.make_talking_clip(tmp_path / "clip.mp4", seconds=4.0, jitter=False)
    frames = list(iter_frames(path))
    env = synth.mouth_envelope(synth.synthetic_speech(4.0), 100)
    mx, my = synth.MOUTH_CENTER
    # measure vertical structure of the mouth region: the stretch spreads the lips apart
    mouth = np.array([f[my - 20 : my + 20, mx - 25 : mx + 25].astype(float).mean(axis=2) for f in frames])
    rest = mouth[np.argsort(env)[:10]].mean(axis=0)  # the mouth when quietest
    change = np.abs(mouth - rest).mean(axis=(1, 2))
    assert np.corrcoef(change, env)[0, 1] > 0.5


def test_sizes_and_video_only(tmp_path: Path) -> None:
    p = synth.make_talking_clip(tmp_path / "s.mp4", seconds=1.0, size=96, fps=20)
    info = preflight(p, audio=True)
    assert (info.width, info.height, info.n_frames, info.fps) == (96, 96, 20, 20.0)
    v = synth.make_video_only(tmp_path / "v.mp4", seconds=1.0)
    assert not preflight(v).has_audio
