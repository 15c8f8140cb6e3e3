"""Normalising a video to constant frame rate H.264 yuv420p with even dimensions (one ffmpeg run)."""

from __future__ import annotations

import os
from pathlib import Path

from tfk.errors import UsageError
from tfk.fsutil import atomic_path
from tfk.media._ffmpeg import run_ffmpeg
from tfk.media.info import preflight

__all__ = ["normalize_video"]


def _even(n: int) -> int:
    return n - (n % 2)


def normalize_video(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    fps: float | None = 25,
    crop: tuple[int, int, int, int] | None = None,
    size: tuple[int, int] | None = None,
    audio: bool = True,
    crf: int = 18,
    preset: str = "veryfast",
) -> Path:
    """Re-encode ``src`` to ``dst``: constant ``fps`` (None keeps the source rate), optional ``crop=(x, y, w, h)``
    then ``size=(w, h)`` scaling, H.264 yuv420p with even dimensions (odd ones lose their last row/column),
    square pixels, and AAC audio when ``audio`` and the source has an audio stream. Written atomically.
    """
    info = preflight(src, video=True, audio=False, decode=False)
    assert info.width is not None and info.height is not None
    filters: list[str] = []
    w, h = info.width, info.height
    if crop is not None:
        x, y, cw, ch = (int(v) for v in crop)
        if cw <= 0 or ch <= 0 or x < 0 or y < 0 or x + cw > w or y + ch > h:
            raise UsageError(f"crop {tuple(crop)} (x, y, w, h) does not fit inside the {w}x{h} frame of {src}")
        filters.append(f"crop={cw}:{ch}:{x}:{y}")
        w, h = cw, ch
    if size is not None:
        sw, sh = (int(v) for v in size)
        if sw < 2 or sh < 2:
            raise UsageError(f"size {tuple(size)} is too small")
        w, h = _even(sw), _even(sh)
        filters.append(f"scale={w}:{h}:flags=bicubic")
    elif w % 2 or h % 2:
        w, h = max(_even(w), 2), max(_even(h), 2)
        filters.append(f"crop={w}:{h}:0:0")
    filters.append("setsar=1")
    if fps is not None:
        if fps <= 0:
            raise UsageError(f"fps must be positive, got {fps}")
        filters.append(f"fps={fps}")
    filters.append("format=yuv420p")

    dst = Path(dst)
    args: list[str | os.PathLike[str]] = ["-y", "-i", Path(src), "-map", "0:v:0", "-vf", ",".join(filters)]
    args += ["-c:v", "libx264", "-preset", preset, "-crf", str(int(crf)), "-pix_fmt", "yuv420p"]
    if fps is not None:
        args += ["-r", str(fps)]
    if audio and info.has_audio:
        args += ["-map", "0:a:0", "-c:a", "aac", "-b:a", "128k"]
    else:
        args += ["-an"]
    args += ["-sn", "-dn", "-map_metadata", "-1"]
    if dst.suffix.lower() in ("", ".mp4", ".m4v", ".mov"):
        args += ["-movflags", "+faststart", "-f", "mov" if dst.suffix.lower() == ".mov" else "mp4"]
    with atomic_path(dst) as tmp:
        run_ffmpeg([*args, tmp], what=f"normalising {src}")
    return dst
