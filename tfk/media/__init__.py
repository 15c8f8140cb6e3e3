"""tfk.media: the only module that runs ffmpeg. Probe, preflight, decode, normalise, audio, write + mux.

Importing this package is cheap: PyAV/numpy load on first use of a function (module ``__getattr__``).

- ``probe(path) -> MediaInfo``; ``preflight(path, video=True, audio=False, decode=True) -> MediaInfo``
- ``iter_frames(path, start=0, stop=None)`` (RGB uint8, streaming); ``count_frames(path)``
- ``load_audio(path, sr=16000)`` (float32 mono); ``extract_audio(src, dst, sr=16000)``; ``write_wav``
- ``normalize_video(src, dst, fps=25, crop=None, size=None, audio=True)``
- ``VideoWriter(path, fps=25, audio=None, audio_rate=16000, crf=18)``; ``write_video(path, frames, fps)``
- ``ffmpeg_exe()``, ``ffmpeg_encoders()``, ``run_ffmpeg(args)``
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "MediaInfo": "tfk.media.info",
    "probe": "tfk.media.info",
    "preflight": "tfk.media.info",
    "iter_frames": "tfk.media.frames",
    "count_frames": "tfk.media.frames",
    "load_audio": "tfk.media.audio",
    "extract_audio": "tfk.media.audio",
    "write_wav": "tfk.media.audio",
    "normalize_video": "tfk.media.normalize",
    "VideoWriter": "tfk.media.writer",
    "write_video": "tfk.media.writer",
    "ffmpeg_exe": "tfk.media._ffmpeg",
    "ffmpeg_encoders": "tfk.media._ffmpeg",
    "run_ffmpeg": "tfk.media._ffmpeg",
    "FFmpegFailed": "tfk.media._ffmpeg",
    "FFmpegNotFound": "tfk.media._ffmpeg",
}

__all__ = [
    "FFmpegFailed",
    "FFmpegNotFound",
    "MediaInfo",
    "VideoWriter",
    "count_frames",
    "extract_audio",
    "ffmpeg_encoders",
    "ffmpeg_exe",
    "iter_frames",
    "load_audio",
    "normalize_video",
    "preflight",
    "probe",
    "run_ffmpeg",
    "write_video",
    "write_wav",
]

if TYPE_CHECKING:
    from tfk.media._ffmpeg import FFmpegFailed, FFmpegNotFound, ffmpeg_encoders, ffmpeg_exe, run_ffmpeg
    from tfk.media.audio import extract_audio, load_audio, write_wav
    from tfk.media.frames import count_frames, iter_frames
    from tfk.media.info import MediaInfo, preflight, probe
    from tfk.media.normalize import normalize_video
    from tfk.media.writer import VideoWriter, write_video


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tfk.media' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
