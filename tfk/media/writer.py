"""H.264 + AAC writing, streamed frame by frame, renamed atomically onto the target on success.

Two encoders, picked by ``backend``:

- ``"ffmpeg"`` (the default when an ffmpeg binary is found): raw RGB frames are piped into an ffmpeg process
  (libx264); colour conversion and encoding run in that process, in parallel with the caller. With audio, a
  second ffmpeg pass copies the video stream and adds the AAC track (audio trimmed/padded to the video).
- ``"pyav"``: libx264 in-process through PyAV, audio encoded in step with the frames. Used when no ffmpeg binary
  is available.

Both keep memory bounded (a pipe buffer, or libx264's look-ahead): nothing grows with clip length except the
audio array itself (float32, 64 kB per second at 16 kHz).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tfk.errors import BadInput, DiskFull, UsageError, ZeroDuration
from tfk.fsutil import disk_error, disk_errors, temp_sibling

if TYPE_CHECKING:
    import numpy as np

__all__ = ["VideoWriter", "write_video"]

_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}


class VideoWriter:
    """Encode RGB uint8 frames to an H.264 (yuv420p) video, optionally with AAC audio.

    ``audio`` is None, a path (any format :func:`tfk.media.load_audio` reads) or a float mono array at
    ``audio_rate`` Hz. The audio is trimmed or zero-padded to the video duration (``n_frames / fps``), so
    both streams end together (within one AAC frame of rounding; well under one video frame).
    Odd frame sizes are padded by one edge-replicated row/column (yuv420p needs even dimensions).

    The file is written to a hidden temp name in the target directory and renamed onto ``path`` when
    :meth:`close` succeeds; if the ``with`` block raises, the temp files are removed and ``path`` is untouched.
    ``backend``: ``"auto"`` (ffmpeg pipe when an ffmpeg binary exists, else PyAV), ``"ffmpeg"`` or ``"pyav"``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: float = 25,
        audio: str | os.PathLike[str] | np.ndarray | None = None,
        audio_rate: int = 16000,
        crf: int = 18,
        preset: str = "veryfast",
        audio_bitrate: int = 96_000,
        backend: str = "auto",
    ):
        import numpy as np

        if not fps or fps <= 0:
            raise UsageError(f"fps must be positive, got {fps}")
        if backend not in ("auto", "ffmpeg", "pyav"):
            raise UsageError(f"unknown VideoWriter backend {backend!r} (auto, ffmpeg or pyav)")
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(1001)
        self.crf = int(crf)
        self.preset = preset
        self.audio_rate = int(audio_rate)
        self.audio_bitrate = int(audio_bitrate)
        self._audio: np.ndarray | None = None
        if audio is not None:
            if isinstance(audio, (str, os.PathLike)):
                from tfk.media.audio import load_audio

                self._audio = load_audio(audio, sr=self.audio_rate)
            else:
                a = np.asarray(audio, dtype=np.float32)
                if a.ndim == 2:  # (n, channels)
                    a = a.mean(axis=1)
                if a.ndim != 1:
                    raise BadInput(f"audio array must be (n,) or (n, channels), got shape {np.shape(audio)}")
                self._audio = a
        if backend == "auto":
            from tfk.media._ffmpeg import FFmpegNotFound, ffmpeg_exe

            try:
                ffmpeg_exe()
                backend = "ffmpeg"
            except FFmpegNotFound:
                backend = "pyav"
        self.backend = backend
        if self.path.suffix.lower() not in _FORMATS:
            raise UsageError(f"cannot write {self.path}: use one of {', '.join(_FORMATS)}")
        self._format: str = _FORMATS[self.path.suffix.lower()]
        self._tmp = temp_sibling(self.path)
        self._enc: _PipeEncoder | _PyAVEncoder | None = None
        self._size: tuple[int, int] | None = None  # (h, w) of the input frames
        self._n = 0
        self._closed = False

    # -- context manager -------------------------------------------------------------------------
    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    @property
    def frames_written(self) -> int:
        return self._n

    # -- writing ---------------------------------------------------------------------------------
    def write(self, frame: np.ndarray) -> None:
        """Append one RGB uint8 ``(H, W, 3)`` frame (all frames the same size)."""
        import numpy as np

        if self._closed:
            raise UsageError(f"VideoWriter for {self.path} is closed")
        arr = np.asarray(frame)
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
            raise BadInput(f"frames must be RGB uint8 (H, W, 3), got {arr.dtype} {arr.shape}")
        h, w = arr.shape[:2]
        if self._enc is None:
            with disk_errors(self.path):  # a read-only or full location is named before any encoding
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._tmp.touch()
            cls = _PipeEncoder if self.backend == "ffmpeg" else _PyAVEncoder
            self._enc = cls(self, w + (w % 2), h + (h % 2))
            self._size = (h, w)
        elif (h, w) != self._size:
            assert self._size is not None
            raise BadInput(f"frame {self._n} is {w}x{h}, earlier frames were {self._size[1]}x{self._size[0]}")
        if h % 2 or w % 2:
            arr = np.pad(arr, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        try:
            self._enc.write(np.ascontiguousarray(arr))
        except OSError as exc:
            self._raise_disk_error(exc)
        self._n += 1

    def _raise_disk_error(self, exc: OSError) -> None:
        """Drop the output and raise ``exc`` as DiskFull / OutputNotWritable where it is one of those."""
        self.abort()
        mapped = disk_error(exc, self.path)
        if mapped is None:
            raise exc
        raise mapped from exc

    def _audio_upto(self, start: int, stop: int) -> np.ndarray:
        """Audio samples ``[start, stop)``, zero-padded past the end of the array."""
        import numpy as np

        assert self._audio is not None
        chunk = self._audio[start:stop]
        if chunk.size < stop - start:
            chunk = np.concatenate([chunk, np.zeros(stop - start - chunk.size, np.float32)])
        return np.ascontiguousarray(chunk, dtype=np.float32)

    def _n_audio_samples(self) -> int:
        return round(self._n * self.audio_rate / self.fps)

    def close(self) -> Path:
        """Flush the encoder, finish the file (mux the audio) and rename it onto ``path``. Returns ``path``."""
        if self._closed:
            return self.path
        if self._n == 0 or self._enc is None:
            self.abort()
            raise ZeroDuration(f"no frames were written to {self.path}")
        try:
            self._enc.finish()
            os.replace(self._tmp, self.path)
        except OSError as exc:  # the audio side file's tofile, the rename: ENOSPC is DiskFull, not a crash
            self._raise_disk_error(exc)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.path

    def abort(self) -> None:
        """Drop the output: stop the encoder and delete every temp file."""
        self._closed = True
        if self._enc is not None:
            with contextlib.suppress(OSError):
                self._enc.abort()
        with contextlib.suppress(OSError):  # EROFS/EACCES here must not hide the error being raised
            self._tmp.unlink(missing_ok=True)

    def __del__(self) -> None:  # a writer dropped without close() leaves no temp file behind
        if not getattr(self, "_closed", True) and getattr(self, "_enc", None) is not None:
            with contextlib.suppress(Exception):
                self.abort()


class _PipeEncoder:
    """Raw RGB into an ffmpeg process; audio added by a second ffmpeg pass (stream copy of the video)."""

    def __init__(self, vw: VideoWriter, width: int, height: int):
        from tfk.media._ffmpeg import ffmpeg_exe

        self.vw = vw
        self.exe = ffmpeg_exe()
        self.video_tmp = vw._tmp.with_name(vw._tmp.stem + ".video" + vw.path.suffix)
        self.audio_tmp = vw._tmp.with_name(vw._tmp.stem + ".f32")
        out = self.video_tmp if vw._audio is not None else vw._tmp
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - a file, not a pipe: ffmpeg never blocks on it
        rate = f"{vw.fps.numerator}/{vw.fps.denominator}"
        argv = [self.exe, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
        argv += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", rate, "-i", "pipe:0"]
        argv += ["-an", "-c:v", "libx264", "-preset", vw.preset, "-crf", str(vw.crf), "-pix_fmt", "yuv420p"]
        argv += self._container_args(out)
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self.stderr)

    def _container_args(self, out: Path) -> list[str]:
        fmt = self.vw._format
        args = ["-movflags", "+faststart"] if fmt in ("mp4", "mov") else []
        return [*args, "-f", fmt, str(out)]

    def _failed(self, what: str) -> None:
        from tfk.media._ffmpeg import FFmpegFailed

        self.stderr.seek(0)
        text = self.stderr.read().decode("utf-8", "replace")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {self.proc.returncode}"
        if "No space left on device" in text:
            raise DiskFull(f"{what} {self.vw.path}: no space left on device ({last})")
        raise FFmpegFailed(f"{what} {self.vw.path} failed: {last}")

    def write(self, arr: np.ndarray) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(memoryview(arr).cast("B"))
        except (BrokenPipeError, OSError):
            self.proc.wait()
            self._failed("encoding")

    def finish(self) -> None:
        from tfk.media._ffmpeg import run_ffmpeg

        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError, OSError):
            self.proc.stdin.close()
        if self.proc.wait() != 0:
            self._failed("encoding")
        vw = self.vw
        if vw._audio is None:
            return
        vw._audio_upto(0, vw._n_audio_samples()).astype("<f4").tofile(self.audio_tmp)
        args: list[str | os.PathLike[str]] = ["-y", "-i", self.video_tmp]
        args += ["-f", "f32le", "-ar", str(vw.audio_rate), "-ac", "1", "-i", self.audio_tmp]
        args += ["-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", str(vw.audio_bitrate)]
        run_ffmpeg([*args, *self._container_args(vw._tmp)], what=f"muxing audio into {vw.path}")
        self._cleanup()

    def _cleanup(self) -> None:
        for p in (self.video_tmp, self.audio_tmp):
            with contextlib.suppress(OSError):
                p.unlink(missing_ok=True)
        self.stderr.close()

    def abort(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(Exception):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        self.proc.wait()
        self._cleanup()


class _PyAVEncoder:
    """libx264 + AAC in-process; audio encoded up to the current video time after every frame."""

    def __init__(self, vw: VideoWriter, width: int, height: int):
        import av
        from av.video.reformatter import VideoReformatter

        self.vw = vw
        options = {"movflags": "+faststart"} if vw._format in ("mp4", "mov") else {}
        try:
            self.container: Any = av.open(str(vw._tmp), mode="w", format=vw._format, options=options)
        except ValueError as exc:
            raise UsageError(f"cannot write {vw.path}: unknown container for suffix {vw.path.suffix!r}") from exc
        vs = self.container.add_stream("libx264", rate=vw.fps)
        vs.width, vs.height = width, height
        vs.pix_fmt = "yuv420p"
        vs.options = {"crf": str(vw.crf), "preset": vw.preset}
        vs.codec_context.time_base = 1 / vw.fps
        self.vstream = vs
        self.astream: Any = None
        if vw._audio is not None:
            a = self.container.add_stream("aac", rate=vw.audio_rate)
            a.layout = "mono"
            a.bit_rate = vw.audio_bitrate
            self.astream = a
        self.reformatter = VideoReformatter()  # one SwsContext for the whole clip
        self.n = 0
        self.apos = 0

    def write(self, arr: np.ndarray) -> None:
        import av

        vf = av.VideoFrame.from_ndarray(arr, format="rgb24")
        vf = self.reformatter.reformat(vf, format="yuv420p", threads=1)
        vf.pts = self.n
        vf.time_base = self.vstream.codec_context.time_base
        self.container.mux(self.vstream.encode(vf))
        self.n += 1
        self._feed_audio(round(self.n * self.vw.audio_rate / self.vw.fps))

    def _feed_audio(self, target: int) -> None:
        import av

        if self.astream is None or target <= self.apos:
            return
        chunk = self.vw._audio_upto(self.apos, target)
        af = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
        af.sample_rate = self.vw.audio_rate
        af.pts = self.apos
        af.time_base = Fraction(1, self.vw.audio_rate)
        self.container.mux(self.astream.encode(af))
        self.apos = target

    def finish(self) -> None:
        self.container.mux(self.vstream.encode(None))
        if self.astream is not None:
            self.container.mux(self.astream.encode(None))
        self.container.close()
        self.container = None

    def abort(self) -> None:
        if self.container is not None:
            with contextlib.suppress(Exception):  # the container is being discarded anyway
                self.container.close()
            self.container = None


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    fps: float = 25,
    audio: str | os.PathLike[str] | np.ndarray | None = None,
    audio_rate: int = 16000,
    crf: int = 18,
    backend: str = "auto",
) -> Path:
    """Write an iterable of RGB uint8 frames (streamed, not collected) with :class:`VideoWriter`."""
    with VideoWriter(path, fps=fps, audio=audio, audio_rate=audio_rate, crf=crf, backend=backend) as writer:
        for frame in frames:
            writer.write(frame)
    return Path(path)
