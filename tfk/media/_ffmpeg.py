"""Locating and running the ffmpeg binary (the only place in tfk that spawns ffmpeg)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tfk.errors import BadInput, DiskFull, Unavailable

__all__ = ["FFmpegFailed", "FFmpegNotFound", "ffmpeg_encoders", "ffmpeg_exe", "run_ffmpeg"]


class FFmpegNotFound(Unavailable):
    """Neither an ``ffmpeg`` on PATH nor the imageio-ffmpeg binary is available."""


class FFmpegFailed(BadInput):
    """An ffmpeg run exited non-zero; the message carries its last stderr line."""


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: ``$TFK_FFMPEG``, else ``ffmpeg`` on PATH, else imageio-ffmpeg's bundled one."""
    env = os.environ.get("TFK_FFMPEG")
    if env:
        if Path(env).is_file() and os.access(env, os.X_OK):
            return env
        raise FFmpegNotFound(f"TFK_FFMPEG={env} is not an executable file", hint="unset TFK_FFMPEG")
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:  # ImportError, or RuntimeError when the wheel has no binary
        raise FFmpegNotFound(
            f"no ffmpeg binary found ({type(exc).__name__}: {exc})",
            hint="pip install imageio-ffmpeg  (or install ffmpeg on PATH)",
        ) from None


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else "(no error output)"


def run_ffmpeg(args: Sequence[str | os.PathLike[str]], *, what: str = "ffmpeg", timeout: float | None = None) -> str:
    """Run ``ffmpeg <args>`` (an argv list, never a shell string); return stderr.

    Raises :class:`FFmpegFailed` (or :class:`~tfk.errors.DiskFull`) with the last stderr line on failure.
    """
    argv = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *[os.fspath(a) for a in args]]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise FFmpegFailed(f"{what}: ffmpeg timed out after {timeout} s") from None
    except OSError as exc:
        raise FFmpegNotFound(f"cannot run ffmpeg ({exc})") from None
    if proc.returncode != 0:
        last = _last_line(proc.stderr)
        if "No space left on device" in proc.stderr:
            raise DiskFull(f"{what}: no space left on device ({last})")
        raise FFmpegFailed(f"{what} failed: {last}")
    return proc.stderr


def ffmpeg_encoders() -> frozenset[str]:
    """Names of the encoders the ffmpeg binary offers (``libx264``, ``aac``, ...), for ``tfk doctor``."""
    return _encoders(ffmpeg_exe())


@functools.cache
def _encoders(exe: str) -> frozenset[str]:
    argv = [exe, "-hide_banner", "-nostdin", "-encoders"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FFmpegNotFound(f"cannot run ffmpeg -encoders ({exc})") from None
    names: set[str] = set()
    started = False
    for line in out.splitlines():
        if line.strip().startswith("------"):
            started = True
            continue
        parts = line.split()
        # lines look like " V....D libx264              libx264 H.264 / AVC ..."
        if started and len(parts) >= 2 and len(parts[0]) == 6:
            names.add(parts[1])
    return frozenset(names)
