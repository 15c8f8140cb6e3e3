"""Frame sources for the face toolbox: an iterator of RGB uint8 frames or a video path."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from tfk.errors import BadInput, InputNotFound


def iter_rgb(frames_or_path: Iterable[np.ndarray] | str | Path) -> Iterator[np.ndarray]:
    """Yield RGB uint8 HxWx3 frames from an iterable of frames or from a video file (streaming)."""
    if isinstance(frames_or_path, (str, Path)):
        yield from _iter_video(Path(frames_or_path))
        return
    for i, frame in enumerate(frames_or_path):
        yield check_frame(frame, i)


def check_frame(frame: np.ndarray, index: int = 0) -> np.ndarray:
    """Return ``frame`` as a contiguous RGB uint8 array or raise :class:`BadInput`."""
    arr = np.asarray(frame)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.shape[0] < 8 or arr.shape[1] < 8:
        raise BadInput(f"frame {index}: expected an RGB image HxWx3, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise BadInput(f"frame {index}: expected uint8 pixels, got {arr.dtype}")
    return np.ascontiguousarray(arr[:, :, :3])


def _iter_video(path: Path) -> Iterator[np.ndarray]:
    if not path.exists():
        raise InputNotFound(f"video not found: {path}")
    from tfk.media import iter_frames  # the project's only decoder

    yield from iter_frames(path)
