"""Frame and landmark inputs of the tracker: read a few frames at a time, never the whole clip."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tfk.errors import BadInput, InputNotFound

_IMAGE_EXT = (".jpg", ".jpeg", ".png", ".bmp")


class FrameSource:
    """Frames of a clip from a directory of ``{i}.jpg|png`` (AD-NeRF ``ori_imgs``), a video file, or an array.

    :meth:`read` returns the requested frames (RGB uint8 ``[k,H,W,3]``) in one streaming pass.
    """

    def __init__(self, src: str | os.PathLike[str] | np.ndarray | Sequence[np.ndarray]):
        self._array: np.ndarray | Sequence[np.ndarray] | None = None
        self._files: list[Path] | None = None
        self._video: Path | None = None
        if isinstance(src, (str, os.PathLike)):
            p = Path(src)
            if not p.exists():
                raise InputNotFound(f"{p}: no such file or directory")
            if p.is_dir():
                files = [f for f in p.iterdir() if f.suffix.lower() in _IMAGE_EXT and f.stem.isdigit()]
                if not files:
                    raise BadInput(f"{p}: no frames named <index>.jpg/png")
                self._files = sorted(files, key=lambda f: int(f.stem))
                self._n = len(self._files)
                first = self._read_image(self._files[0])
            else:
                from tfk.media import probe

                info = probe(p)
                self._video = p
                self._n = int(info.n_frames or 0)
                if self._n <= 0:
                    self._n = sum(1 for _ in self._iter_video())
                first = next(self._iter_video())
        else:
            self._array = src
            self._n = len(src)
            if self._n == 0:
                raise BadInput("no frames")
            first = np.asarray(src[0])
        if first.ndim != 3 or first.shape[2] != 3:
            raise BadInput(f"frames must be RGB HxWx3, got {first.shape}")
        self.height, self.width = int(first.shape[0]), int(first.shape[1])

    def __len__(self) -> int:
        return self._n

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)``."""
        return self.height, self.width

    @staticmethod
    def _read_image(path: Path) -> np.ndarray:
        import cv2

        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise BadInput(f"{path}: unreadable image")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def _iter_video(self):
        from tfk.media import iter_frames

        return iter_frames(self._video)

    def read(self, indices: Sequence[int]) -> np.ndarray:
        """Frames at ``indices`` (any order, repeats allowed) as ``[k,H,W,3]`` uint8."""
        idx = [int(i) for i in indices]
        if any(i < 0 or i >= self._n for i in idx):
            raise BadInput(f"frame index out of range 0..{self._n - 1}")
        if self._array is not None:
            return np.stack([np.asarray(self._array[i], dtype=np.uint8) for i in idx])
        if self._files is not None:
            return np.stack([self._read_image(self._files[i]) for i in idx])
        wanted = set(idx)
        got: dict[int, np.ndarray] = {}
        last = max(wanted)
        for i, fr in enumerate(self._iter_video()):
            if i in wanted:
                got[i] = fr
            if i >= last:
                break
        if len(got) != len(wanted):
            raise BadInput(f"{self._video}: video ended before frame {last}")
        return np.stack([got[i] for i in idx])


def load_landmarks(src) -> np.ndarray:
    """Landmarks ``[N,68,2]`` float32 from an array, a ``tfk.face.LandmarkTrack`` (``.points``), a ``.npy`` file,
    or a directory of AD-NeRF ``{i}.lms`` files."""
    if hasattr(src, "points"):
        arr = np.asarray(src.points, dtype=np.float32)
    elif isinstance(src, (str, os.PathLike)):
        p = Path(src)
        if not p.exists():
            raise InputNotFound(f"{p}: no such file or directory")
        if p.is_dir():
            files = sorted((f for f in p.glob("*.lms") if f.stem.isdigit()), key=lambda f: int(f.stem))
            if not files:
                raise BadInput(f"{p}: no <index>.lms landmark files")
            if [int(f.stem) for f in files] != list(range(len(files))):
                raise BadInput(f"{p}: .lms files are not numbered 0..{len(files) - 1} without gaps")
            arr = np.stack([np.loadtxt(f, dtype=np.float32).reshape(-1, 2) for f in files])
        elif p.suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
            if arr.dtype.names and "points" in arr.dtype.names:
                arr = arr["points"]  # a field of a structured array: a strided view
            arr = np.ascontiguousarray(arr, dtype=np.float32)
        else:
            raise BadInput(f"{p}: landmarks must be a .npy file or a directory of .lms files")
    else:
        arr = np.asarray(src, dtype=np.float32)
    if arr.ndim != 3 or arr.shape[1:] != (68, 2) or arr.shape[0] == 0:
        raise BadInput(f"landmarks must be [N,68,2] with N >= 1, got {tuple(arr.shape)}")
    if not np.isfinite(arr).all():
        raise BadInput("landmarks contain NaN or infinite values")
    return arr
