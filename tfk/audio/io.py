"""Audio loading for the feature extractors: anything the media layer decodes -> 16 kHz mono float32."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

#: The sample rate every extractor in :mod:`tfk.audio` was published for.
SAMPLE_RATE = 16000


def load(path: str | os.PathLike[str], sr: int = SAMPLE_RATE) -> np.ndarray:
    """Decode ``path`` (WAV, MP3, MP4/AAC, ...) to float32 mono in [-1, 1] at ``sr`` Hz.

    Delegates to :func:`tfk.media.load_audio`, which averages channels. (The DeepSpeech-v0.1 scripts of
    AD-NeRF/DINet/LawDNet read channel 0 of a stereo WAV instead; for the usual mono or dual-mono speech
    this is the same signal.)
    """
    from tfk.media.audio import load_audio

    return load_audio(path, sr=sr)


def to_int16(wav: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] -> int16 the way the DeepSpeech scripts see a 16-bit WAV.

    ``x * 32768`` recovers the exact sample values of a 16-bit source (decoders divide by 32768); values
    are clipped to the int16 range and truncated toward zero like numpy's ``astype(np.int16)`` on the
    resampled float64 signal in the originals.
    """
    import numpy as np

    x = np.asarray(wav, dtype=np.float64) * 32768.0
    return np.clip(x, -32768.0, 32767.0).astype(np.int16)
