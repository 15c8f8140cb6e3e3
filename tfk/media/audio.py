"""Audio from any container/format as float32 mono at a chosen rate; float WAV writing."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import TYPE_CHECKING

from tfk.errors import MissingStream, TruncatedMedia, ZeroDuration
from tfk.fsutil import atomic_path
from tfk.media._open import open_input

if TYPE_CHECKING:
    import numpy as np

__all__ = ["extract_audio", "load_audio", "write_wav"]


def load_audio(path: str | os.PathLike[str], sr: int = 16000) -> np.ndarray:
    """Decode the first audio stream of ``path`` to float32 mono at ``sr`` Hz (channels averaged).

    Works for WAV (16/24/32-bit, float, WAVE_FORMAT_EXTENSIBLE), MP3, AAC/MP4, and anything else FFmpeg
    decodes. No audio stream -> ``MissingStream``; no samples -> ``ZeroDuration``; decode error -> ``TruncatedMedia``.
    """
    import av
    import numpy as np

    if sr <= 0:
        raise ValueError(f"sample rate must be positive, got {sr}")
    container = open_input(path)
    chunks: list[np.ndarray] = []
    with container:
        if not container.streams.audio:
            raise MissingStream(f"{path} has no audio stream")
        stream = container.streams.audio[0]
        declared = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
        resampler = av.AudioResampler(format="fltp", rate=sr)  # keeps the layout; we average channels ourselves

        def take(frames: list[av.AudioFrame]) -> None:
            for f in frames:
                a = f.to_ndarray()
                chunks.append(a.mean(axis=0, dtype=np.float32) if a.shape[0] > 1 else a[0].astype(np.float32))

        try:
            for frame in container.decode(stream):
                frame.pts = None  # let the resampler count samples; avoids gaps from odd timestamps
                take(resampler.resample(frame))
            take(resampler.resample(None))
        except av.error.FFmpegError as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise TruncatedMedia(f"{path} is truncated or damaged: audio decoding failed ({reason})") from None
    if not chunks:
        raise ZeroDuration(f"{path}: the audio stream has no samples")
    out = np.concatenate(chunks).astype(np.float32, copy=False)
    if declared is not None and len(out) > round(declared * sr):
        out = out[: round(declared * sr)]  # AAC decodes whole 1024-sample frames: drop the padding past the end
    if out.size == 0:
        raise ZeroDuration(f"{path}: the audio stream has no samples")
    return out


def write_wav(path: str | os.PathLike[str], audio: np.ndarray, sr: int = 16000) -> Path:
    """Write float32 audio (``(n,)`` mono or ``(n, channels)``) as an IEEE-float WAV, atomically."""
    import numpy as np

    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"audio must be (n,) or (n, channels), got shape {a.shape}")
    n, ch = a.shape
    data = np.ascontiguousarray(a, dtype="<f4").tobytes()
    fmt = struct.pack("<HHIIHHH", 3, ch, sr, sr * ch * 4, ch * 4, 32, 0)  # WAVE_FORMAT_IEEE_FLOAT, cbSize 0
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"fact" + struct.pack("<II", 4, n) + b"data" + struct.pack("<I", len(data))
    dst = Path(path)
    with atomic_path(dst) as tmp, open(tmp, "wb") as fh:
        fh.write(b"RIFF" + struct.pack("<I", len(body) + len(data)) + body)
        fh.write(data)
    return dst


def extract_audio(src: str | os.PathLike[str], dst: str | os.PathLike[str], sr: int = 16000) -> Path:
    """Write the audio of ``src`` as a ``sr`` Hz mono float WAV at ``dst`` (atomic); return ``dst``."""
    return write_wav(dst, load_audio(src, sr=sr), sr=sr)
