"""Probing (``probe``) and validating (``preflight``) media files with PyAV; no ffprobe needed."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tfk.errors import MissingStream, TruncatedMedia, ZeroDuration
from tfk.media._open import open_input

__all__ = ["MediaInfo", "preflight", "probe"]


@dataclass(frozen=True)
class MediaInfo:
    """What a media file holds. Durations are in seconds; video/audio fields are None without that stream."""

    path: Path
    format: str
    duration: float
    has_video: bool
    has_audio: bool
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    n_frames: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    audio_rate: int | None = None
    audio_channels: int | None = None
    video_duration: float | None = None
    audio_duration: float | None = None


def _stream_duration(stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    return None


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Read the header of a media file. Raises InputNotFound / NotMediaFile / TruncatedMedia (unreadable)."""
    container = open_input(path)
    with container:
        p = Path(path)
        fmt = container.format.name
        container_dur = float(container.duration) / 1_000_000 if container.duration else None
        fields: dict[str, Any] = {}
        if container.streams.video:
            vs = container.streams.video[0]
            rate = vs.average_rate or vs.guessed_rate or vs.base_rate
            fps = float(rate) if rate else None
            vdur = _stream_duration(vs) or container_dur
            n: int | None = int(vs.frames or 0)
            if not n:
                if fmt == "image2" or fmt.endswith("_pipe"):
                    n = 1  # a still image
                elif vdur and fps:
                    n = round(vdur * fps)
                else:
                    n = None  # unknown from the header; preflight(decode=True) counts
            fields.update(
                width=vs.codec_context.width,
                height=vs.codec_context.height,
                fps=fps,
                n_frames=n,
                video_codec=vs.codec_context.name,
                video_duration=vdur,
            )
        if container.streams.audio:
            aus = container.streams.audio[0]
            cc = aus.codec_context
            fields.update(
                audio_codec=cc.name,
                audio_rate=int(cc.sample_rate or aus.rate or 0) or None,
                audio_channels=int(cc.channels or 0) or None,
                audio_duration=_stream_duration(aus) or container_dur,
            )
        durations = [d for d in (container_dur, fields.get("video_duration"), fields.get("audio_duration")) if d]
        return MediaInfo(
            path=p,
            format=fmt,
            duration=max(durations) if durations else 0.0,
            has_video=bool(container.streams.video),
            has_audio=bool(container.streams.audio),
            **fields,
        )


_CHECKED: dict[tuple[Any, ...], MediaInfo] = {}
_CHECKED_MAX = 256


def _file_key(path: str | os.PathLike[str]) -> tuple[Any, ...] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (os.path.realpath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def preflight(path: str | os.PathLike[str], video: bool = True, audio: bool = False, decode: bool = True) -> MediaInfo:
    """See :func:`_preflight`. A file that passed (unchanged since) is not checked again in this process,
    so the stage runner and the plugin may both call it and the file is decoded once."""
    key = _file_key(path)
    if key is not None:
        for dec in (True, False) if not decode else (True,):
            hit = _CHECKED.get((*key, video, audio, dec))
            if hit is not None:
                return hit if hit.path == Path(path) else replace(hit, path=Path(path))
    info = _preflight(path, video=video, audio=audio, decode=decode)
    if key is not None:
        if len(_CHECKED) >= _CHECKED_MAX:
            _CHECKED.clear()
        _CHECKED[(*key, video, audio, decode)] = info
    return info


def _preflight(path: str | os.PathLike[str], video: bool = True, audio: bool = False, decode: bool = True) -> MediaInfo:
    """Check that ``path`` is usable media before any work starts; return its :class:`MediaInfo`.

    Checks in order, each failure its own error with a one-line message naming the file:
    exists (``InputNotFound``), a non-empty regular media file (``NotMediaFile``; a 0-byte file is
    ``NotMediaFile``), has the needed streams (``MissingStream``), holds frames/samples (``ZeroDuration``,
    e.g. an MP4 whose tracks have no samples), and, with ``decode=True``, decodes completely to its
    declared duration (``TruncatedMedia``: catches files cut mid-data whose header still probes fine).
    """
    info = probe(path)
    p = info.path
    if not info.has_video and not info.has_audio:
        raise ZeroDuration(f"{p} holds no audio or video data (empty container)")
    if video and not info.has_video:
        raise MissingStream(f"{p} has no video stream")
    if audio and not info.has_audio:
        raise MissingStream(f"{p} has no audio stream")
    if video and info.n_frames == 0:
        raise ZeroDuration(f"{p}: the video stream has no frames")
    if audio and not info.audio_duration and not decode:
        raise ZeroDuration(f"{p}: the audio stream has no samples")
    if decode:
        _decode_check(info, video=video, audio=audio)
    return info


def _decode_check(info: MediaInfo, *, video: bool, audio: bool) -> None:
    """Decode every packet of the needed streams; compare decoded with declared durations."""
    import av

    p = info.path
    container = open_input(p)
    with container:
        streams = []
        if video:
            vs = container.streams.video[0]
            vs.thread_type = "AUTO"
            streams.append(vs)
        if audio:
            streams.append(container.streams.audio[0])
        n_video = 0
        v_end = 0.0
        n_samples = 0
        t = 0.0
        try:
            for packet in container.demux(streams):
                if packet.pts is not None and packet.time_base is not None:
                    t = float(packet.pts * packet.time_base)
                for frame in packet.decode():
                    if isinstance(frame, av.VideoFrame):
                        n_video += 1
                        if frame.time is not None:
                            v_end = max(v_end, frame.time)
                    else:
                        n_samples += frame.samples
        except av.error.FFmpegError as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise TruncatedMedia(f"{p} is truncated or damaged: decoding failed near {t:.2f} s ({reason})") from None

    if video:
        fps = info.fps or 25.0
        if n_video == 0:
            raise ZeroDuration(f"{p}: the video stream decodes to no frames")
        declared = info.video_duration or (info.n_frames or 0) / fps
        decoded = v_end + 1.0 / fps
        if declared - decoded > max(2.0 / fps, 0.01 * declared):
            raise TruncatedMedia(
                f"{p} is truncated: video decodes to {decoded:.2f} s ({n_video} frames) of a declared {declared:.2f} s"
            )
    if audio:
        rate = info.audio_rate or 1
        if n_samples == 0:
            raise ZeroDuration(f"{p}: the audio stream decodes to no samples")
        decoded = n_samples / rate
        declared = info.audio_duration or 0.0
        if declared - decoded > max(0.15, 0.01 * declared):
            raise TruncatedMedia(f"{p} is truncated: audio decodes to {decoded:.2f} s of a declared {declared:.2f} s")
