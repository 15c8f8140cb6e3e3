"""H.264 + AAC writing with PyAV: frames streamed to libx264, audio muxed in step, atomic rename on success."""

from __future__ import annotations

import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tfk.errors import BadInput, UsageError, ZeroDuration
from tfk.media._atomic import temp_sibling

if TYPE_CHECKING:
    import numpy as np

__all__ = ["VideoWriter", "write_video"]

_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}


class VideoWriter:
    """Encode RGB uint8 frames to an H.264 (yuv420p) video, optionally with AAC audio.

    ``audio`` is None, a path (any format :func:`tfk.media.load_audio` reads) or a float mono array at
    ``audio_rate`` Hz. The audio is trimmed or zero-padded to the video duration (``n_frames / fps``), so
    both streams end together. Frames go straight to the encoder (libx264's look-ahead is the only buffer).
    Odd frame sizes are padded by one edge-replicated row/column (yuv420p needs even dimensions).

    The file is written to a hidden temp name in the target directory and renamed onto ``path`` when
    :meth:`close` succeeds; if the ``with`` block raises, the temp file is removed and ``path`` is untouched.
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
    ):
        import numpy as np

        if not fps or fps <= 0:
            raise UsageError(f"fps must be positive, got {fps}")
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
        self._format = _FORMATS.get(self.path.suffix.lower())
        self._tmp = temp_sibling(self.path)
        self._container: Any = None
        self._vstream: Any = None
        self._astream: Any = None
        self._size: tuple[int, int] | None = None  # (h, w) of the input frames
        self._n = 0
        self._apos = 0
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
    def _open(self, h: int, w: int) -> None:
        import av

        self.path.parent.mkdir(parents=True, exist_ok=True)
        options = {"movflags": "+faststart"} if self._format in ("mp4", "mov") else {}
        try:
            self._container = av.open(str(self._tmp), mode="w", format=self._format, options=options)
        except ValueError as exc:
            raise UsageError(f"cannot write {self.path}: unknown container for suffix {self.path.suffix!r}") from exc
        vs = self._container.add_stream("libx264", rate=self.fps)
        vs.width, vs.height = w + (w % 2), h + (h % 2)
        vs.pix_fmt = "yuv420p"
        vs.options = {"crf": str(self.crf), "preset": self.preset}
        vs.codec_context.time_base = 1 / self.fps
        self._vstream = vs
        if self._audio is not None:
            a = self._container.add_stream("aac", rate=self.audio_rate)
            a.layout = "mono"
            a.bit_rate = self.audio_bitrate
            self._astream = a
        from av.video.reformatter import VideoReformatter

        self._reformatter = VideoReformatter()
        self._size = (h, w)

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB uint8 ``(H, W, 3)`` frame (all frames the same size)."""
        import av
        import numpy as np

        if self._closed:
            raise UsageError(f"VideoWriter for {self.path} is closed")
        arr = np.asarray(frame)
        if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
            raise BadInput(f"frames must be RGB uint8 (H, W, 3), got {arr.dtype} {arr.shape}")
        h, w = arr.shape[:2]
        if self._container is None:
            self._open(h, w)
        elif (h, w) != self._size:
            raise BadInput(f"frame {self._n} is {w}x{h}, earlier frames were {self._size[1]}x{self._size[0]}")
        if h % 2 or w % 2:
            arr = np.pad(arr, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
        vf = self._reformatter.reformat(vf, format="yuv420p", threads=1)  # one SwsContext for the whole clip
        vf.pts = self._n
        vf.time_base = self._vstream.codec_context.time_base
        self._container.mux(self._vstream.encode(vf))
        self._n += 1
        self._feed_audio()

    def _feed_audio(self) -> None:
        """Encode audio up to the end of the frames written so far (zero-padded past the array's end)."""
        import av
        import numpy as np

        if self._astream is None or self._audio is None:
            return
        target = round(self._n * self.audio_rate / self.fps)
        if target <= self._apos:
            return
        chunk = self._audio[self._apos : target]
        if chunk.size < target - self._apos:
            chunk = np.concatenate([chunk, np.zeros(target - self._apos - chunk.size, np.float32)])
        af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk[None, :]), format="fltp", layout="mono")
        af.sample_rate = self.audio_rate
        af.pts = self._apos
        af.time_base = Fraction(1, self.audio_rate)
        self._container.mux(self._astream.encode(af))
        self._apos = target

    def close(self) -> Path:
        """Flush the encoders, finish the file and rename it onto ``path``. Returns ``path``."""
        if self._closed:
            return self.path
        if self._n == 0:
            self.abort()
            raise ZeroDuration(f"no frames were written to {self.path}")
        try:
            self._container.mux(self._vstream.encode(None))
            if self._astream is not None:
                self._container.mux(self._astream.encode(None))
            self._container.close()
            self._container = None
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        return self.path

    def abort(self) -> None:
        """Drop the output: close the container if open and delete the temp file."""
        self._closed = True
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 - the container is being discarded anyway
                pass
            self._container = None
        self._tmp.unlink(missing_ok=True)

    def __del__(self) -> None:  # a writer dropped without close() leaves no temp file behind
        if not getattr(self, "_closed", True) and getattr(self, "_container", None) is not None:
            self.abort()


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    fps: float = 25,
    audio: str | os.PathLike[str] | np.ndarray | None = None,
    audio_rate: int = 16000,
    crf: int = 18,
) -> Path:
    """Write an iterable of RGB uint8 frames (streamed, not collected) with :class:`VideoWriter`."""
    with VideoWriter(path, fps=fps, audio=audio, audio_rate=audio_rate, crf=crf) as writer:
        for frame in frames:
            writer.write(frame)
    return Path(path)
