"""Fixtures for the audio toolbox tests: the real speech WAV (skip when absent) and 8 s of synthetic speech."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

SR = 16000


def _media_dir() -> Path:
    env = os.environ.get("TFK_SHARED_MEDIA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "media"


@pytest.fixture(scope="session")
def speech_wav_path() -> Path:
    p = _media_dir() / "RD_Radio34_002.wav"
    if not p.is_file():
        pytest.skip(f"real speech sample not found: {p}")
    return p


@pytest.fixture(scope="session")
def speech(speech_wav_path) -> np.ndarray:
    """8 s of real speech, 16 kHz mono float32 (channels averaged)."""
    sf = pytest.importorskip("soundfile")
    x, sr = sf.read(str(speech_wav_path), dtype="float32", always_2d=True)
    assert sr == SR
    return x.mean(axis=1).astype(np.float32)


def synth_speech(seconds: float, seed: int = 0) -> np.ndarray:
    """Voiced-speech-like test signal: a 120 Hz harmonic series with a syllable-rate envelope, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * SR)) / SR
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20))
    env = 0.5 * (1 + np.sin(2 * np.pi * 4 * t)) ** 2
    return (0.1 * env * voiced + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="session")
def speech8() -> np.ndarray:
    return synth_speech(8.0)


@pytest.fixture(scope="session")
def make_speech():
    """Factory ``make_speech(seconds, seed=0)`` for synthetic speech-like audio."""
    return synth_speech
