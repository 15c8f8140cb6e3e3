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
    frame threading, so memory does not grow with clip length. A decode error mid-stream raises
    ``TruncatedMedia``.
    """
    if start < 0 or (stop is not None and stop < start):
        raise UsageError(f"invalid frame range start={start} stop={stop}")
    container = open_input(path)
    if not container.streams.video:
        container.close()
        raise MissingStream(f"{path} has no video stream")
    return _frames(container, path, start, stop)


def _frames(container: Any, path: str | os.PathLike[str], start: int, stop: int | None) -> Iterator[np.ndarray]:
    import av
    import numpy as np
    from av.video.reformatter import VideoReformatter

    with container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        # One reformatter (one SwsContext) for the whole clip, single-threaded: the decoder already uses the
        # cores, and frame.to_ndarray(format=...) would build a new context (and thread pool) per frame.
        reformatter = VideoReformatter()
        index = -1
        try:
            for frame in container.decode(stream):
                index += 1
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
