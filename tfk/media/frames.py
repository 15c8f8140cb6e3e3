"""Streaming video decode: RGB uint8 frames one at a time (memory independent of clip length)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tfk.errors import MissingStream, TruncatedMedia, UsageError
from tfk.media._open import open_input

if TYPE_CHECKING:
    import numpy as np

__all__ = ["count_frames", "iter_frames"]


def iter_frames(path: str | os.PathLike[str], start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
    """Iterate frames ``start <= i < stop`` of the first video stream as RGB uint8 ``(H, W, 3)`` arrays.

    The file is opened (and bad input raised) when called; frames are then decoded one at a time with
    frame threading, so memory does not grow with clip length. For ``start >= 50`` in a constant-rate
    MP4/MKV the decoder seeks to the keyframe before ``start`` instead of decoding from frame 0. A decode
    error mid-stream raises ``TruncatedMedia``.
    """
    if start < 0 or (stop is not None and stop < start):
        raise UsageError(f"invalid frame range start={start} stop={stop}")
    container = open_input(path)
    if not container.streams.video:
        container.close()
        raise MissingStream(f"{path} has no video stream")
    return _frames(container, path, start, stop)


_SEEK_MIN = 50  # below this many frames, decoding from the start is about as cheap as seeking
_SEEKABLE = ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm")


def _seek_origin(container: Any, stream: Any, start: int) -> int | None:
    """Seek to the keyframe at or before frame ``start`` of a constant-rate MP4/MKV stream.

    Returns the stream's first timestamp (frame index = (pts - origin) * time_base * fps), or None when
    the stream cannot be indexed by time (variable rate, unknown rate, other containers): decode from 0.
    """
    rate, base, tb = stream.average_rate, stream.base_rate, stream.time_base
    if start < _SEEK_MIN or not rate or not tb or rate != base or container.format.name not in _SEEKABLE:
        return None
    origin = int(stream.start_time or 0)
    container.seek(origin + int((start - 0.5) / rate / tb), stream=stream, backward=True, any_frame=False)
    return origin


def _indexed(path: str | os.PathLike[str], container: Any, start: int) -> Iterator[tuple[int, Any]]:
    """(frame index, frame) pairs, from at or before frame ``start`` on; seeks when that is safe. Closes."""
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        origin = _seek_origin(container, stream, start)
        if origin is not None:
            fps, tb = stream.average_rate, stream.time_base
            frames = container.decode(stream)
            first = next(frames, None)
            if first is None:
                return
            if first.pts is not None and round((first.pts - origin) * tb * fps) <= start:
                index = round((first.pts - origin) * tb * fps)
                yield index, first
                for frame in frames:
                    index = round((frame.pts - origin) * tb * fps) if frame.pts is not None else index + 1
                    yield index, frame
                return
            # the seek overshot or the frame has no timestamp: decode from the start instead
            container.close()
            container = open_input(path)
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
        yield from enumerate(container.decode(stream))
    finally:
        container.close()


def _frames(container: Any, path: str | os.PathLike[str], start: int, stop: int | None) -> Iterator[np.ndarray]:
    import av
    import numpy as np
    from av.video.reformatter import VideoReformatter

    # One reformatter (one SwsContext) for the whole clip, single-threaded: the decoder already uses the
    # cores, and frame.to_ndarray(format=...) would build a new context (and thread pool) per frame.
    reformatter = VideoReformatter()
    index = -1
    frames = _indexed(path, container, start)
    try:
        for index, frame in frames:
            if index < start:
                continue
            if stop is not None and index >= stop:
                break
            rgb = reformatter.reformat(frame, format="rgb24", threads=1)
            yield np.ascontiguousarray(rgb.to_ndarray())
    except av.error.FFmpegError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise TruncatedMedia(
            f"{path} is truncated or damaged: decoding failed after frame {index} ({reason})"
        ) from None
    finally:
        frames.close()


def count_frames(path: str | os.PathLike[str], exact: bool = False) -> int:
    """Number of video frames: the header's count when it has one, else (or with ``exact``) by decoding."""
    import av

    container = open_input(path)
    with container:
        if not container.streams.video:
            raise MissingStream(f"{path} has no video stream")
        stream = container.streams.video[0]
        if not exact and stream.frames:
            return int(stream.frames)
        stream.thread_type = "AUTO"
        n = 0
        try:
            for _ in container.decode(stream):
                n += 1
        except av.error.FFmpegError as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise TruncatedMedia(
                f"{path} is truncated or damaged: decoding failed after frame {n} ({reason})"
            ) from None
        return n
