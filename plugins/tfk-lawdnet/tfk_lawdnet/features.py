"""LawDNet audio features: DP1 (DeepSpeech v0.1.0 graph) or DP2 (deepspeech.pytorch V3) logits at 25 Hz.

Both front-ends give ``[T, 29]`` pre-softmax logits, every 2nd 50 Hz step (``[::2]``). Frame ``i`` of
the video gets rows ``i-2 .. i+2`` edge padded: a ``(29, 5)`` window (:func:`frame_windows`). Alignment is
start-anchored, index to index; rows past the last video frame are dropped, frames past the last row
repeat it (edge padding) -- the original's policy (reference notes §1.5).

Audio always goes through :func:`tfk.media.load_audio` (any container, any rate/channel count, float) and
is given to the front-ends as 16 kHz mono float; the front-ends handle the int16 scaling DP1 expects.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tfk.errors import BadInput, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "FRONTENDS",
    "SAMPLE_RATE",
    "compute_features",
    "frame_windows",
    "frames_for_audio",
    "frontend_runner",
]

SAMPLE_RATE = 16000
FPS = 25
FRONTENDS = ("dp1", "dp2")


def frames_for_audio(n_samples: int, sr: int = SAMPLE_RATE, fps: int = FPS) -> int:
    """Video frames the audio needs at ``fps``: ``ceil(duration * fps)`` (at least 1)."""
    if n_samples <= 0:
        raise BadInput("the audio has no samples")
    return max(1, math.ceil(n_samples * fps / sr - 1e-6))


def frame_windows(ds25: np.ndarray, n_frames: int) -> np.ndarray:
    """Per-frame generator input ``[n_frames, 29, 5]`` (float32) from 25 Hz features ``[T, 29]``."""
    from tfk.audio.align import centred_windows

    x = np.asarray(ds25, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise BadInput(f"expected 25 Hz features [T, 29], got shape {x.shape}")
    return centred_windows(x, n_frames).astype(np.float32, copy=False)


def _check_frontend(frontend: str) -> str:
    f = str(frontend).lower()
    if f not in FRONTENDS:
        raise UsageError(f"unknown audio front-end {frontend!r}; choose dp1 or dp2")
    return f


def frontend_runner(
    frontend: str, weights: str | os.PathLike[str], device: str = "cpu"
) -> Callable[[np.ndarray], np.ndarray]:
    """A callable ``audio16k_float_mono -> [T, 29] float32`` 25 Hz logits for ``dp1`` or ``dp2``.

    The model is loaded once (reuse the callable for many clips or requests).
    """
    f = _check_frontend(frontend)
    path = Path(weights)
    if f == "dp1":
        from tfk.audio.deepspeech_tf import DeepSpeechV01

        model = DeepSpeechV01(path)

        def run_dp1(audio: np.ndarray) -> np.ndarray:
            return _finite(model.features(_dither_silence(audio), sr=SAMPLE_RATE, layout="lawdnet"))

        return run_dp1
    from tfk.audio import deepspeech_pt

    model2 = deepspeech_pt.load_model(path, device=device)

    def run_dp2(audio: np.ndarray) -> np.ndarray:
        return _finite(deepspeech_pt.features(model2, _dither_silence(audio), sr=SAMPLE_RATE))

    return run_dp2


def _dither_silence(audio: np.ndarray, level: float = 1e-4) -> np.ndarray:
    """Digital silence has no spectral statistics to normalise by; give it a fixed, inaudible (-80 dBFS) noise
    floor (seeded, so the result is reproducible). Real audio is returned unchanged."""
    a = np.asarray(audio, dtype=np.float32)
    if a.size and float(np.abs(a).max()) >= 1e-6:
        return a
    rng = np.random.default_rng(0)
    return (a + level * rng.standard_normal(a.size)).astype(np.float32)


def _finite(x) -> np.ndarray:
    a = np.asarray(x, dtype=np.float32)
    if a.ndim != 2 or a.shape[1] != 29:
        raise BadInput(f"audio front-end returned features of shape {a.shape}, expected [T, 29]")
    if not np.isfinite(a).all():  # e.g. a z-normalisation of pure digital silence
        a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    return a


def compute_features(
    audio: str | os.PathLike[str] | np.ndarray,
    frontend: str,
    weights: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    runner: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, int]:
    """``([T, 29] 25 Hz features, n_samples)`` for an audio file (any format) or a 16 kHz float mono array."""
    if isinstance(audio, np.ndarray):
        wav = np.asarray(audio, dtype=np.float32)
    else:
        from tfk.media import load_audio

        wav = load_audio(audio, sr=SAMPLE_RATE)
    if wav.ndim != 1 or wav.size == 0:
        raise BadInput("the audio has no samples")
    if runner is None:
        if weights is None:
            raise UsageError("compute_features needs the front-end weights or a runner")
        runner = frontend_runner(frontend, weights, device)
    return runner(wav), int(wav.size)
