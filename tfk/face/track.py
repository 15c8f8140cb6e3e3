"""A per-frame 68-point landmark track and the file formats the original models read.

- ``.npy`` track: a compact structured record (points, boxes, detected flags, frame size).
- AD-NeRF/ER-NeRF/DFRF ``ori_imgs/<i>.lms``: 68 lines ``"x y"`` written with ``'%f'``.
- OpenFace 2.x ``FeatureExtraction -2Dfp`` CSV as LawDNet/DINet read it: header
  ``frame, face_id, timestamp, confidence, success, x_0..x_67, y_0..y_67``, ``", "``-separated,
  1-based consecutive ``frame`` numbers; the loaders take ``row[5:73]`` as x and ``row[73:141]`` as y.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfk.errors import BadInput, InputNotFound

N_POINTS = 68
OPENFACE_COLUMNS = (
    ["frame", "face_id", "timestamp", "confidence", "success"]
    + [f"x_{i}" for i in range(N_POINTS)]
    + [f"y_{i}" for i in range(N_POINTS)]
)


@dataclass
class LandmarkTrack:
    """68-point landmarks for every frame of a clip.

    ``points`` [N,68,2] float32 (x, y in pixels), ``boxes`` [N,4] float32 face boxes (x0, y0, x1, y1),
    ``detected`` [N] bool (False where the frame was interpolated), ``size`` = (width, height).
    """

    points: np.ndarray
    boxes: np.ndarray
    detected: np.ndarray
    size: tuple[int, int]

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, dtype=np.float32)
        self.boxes = np.asarray(self.boxes, dtype=np.float32)
        self.detected = np.asarray(self.detected, dtype=bool)
        self.size = (int(self.size[0]), int(self.size[1]))
        n = len(self.points)
        if self.points.shape != (n, N_POINTS, 2) or self.boxes.shape != (n, 4) or self.detected.shape != (n,):
            raise BadInput(
                f"inconsistent landmark track: points {self.points.shape}, boxes {self.boxes.shape}, "
                f"detected {self.detected.shape}"
            )

    def __len__(self) -> int:
        return len(self.points)

    @property
    def interpolated(self) -> list[int]:
        """Indices of frames whose landmarks were interpolated rather than detected."""
        return [int(i) for i in np.flatnonzero(~self.detected)]

    # ------------------------------------------------------------------ .npy
    def save_npy(self, path: str | Path) -> Path:
        """Write the track as one structured ``.npy`` (atomic)."""
        n = len(self)
        rec = np.zeros(
            n, dtype=[("points", "<f4", (N_POINTS, 2)), ("box", "<f4", (4,)), ("detected", "?"), ("size", "<i4", (2,))]
        )
        rec["points"] = self.points
        rec["box"] = self.boxes
        rec["detected"] = self.detected
        rec["size"] = self.size
        path = Path(path)
        if path.suffix != ".npy":
            path = path.with_name(path.name + ".npy")

        def _write(f):
            np.save(f, rec, allow_pickle=False)

        _atomic_write(path, _write, binary=True)
        return path

    @classmethod
    def load_npy(cls, path: str | Path) -> LandmarkTrack:
        """Read a track written by :meth:`save_npy`."""
        path = Path(path)
        if not path.exists():
            raise InputNotFound(f"landmark track not found: {path}")
        try:
            rec = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise BadInput(f"not a landmark track file: {path}") from exc
        if rec.dtype.names is None or not {"points", "box", "detected", "size"} <= set(rec.dtype.names):
            raise BadInput(f"not a landmark track file: {path}")
        size = tuple(int(v) for v in rec["size"][0]) if len(rec) else (0, 0)
        return cls(rec["points"], rec["box"], rec["detected"], size)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ AD-NeRF .lms
    def to_lms_dir(self, directory: str | Path, start: int = 0) -> list[Path]:
        """Write AD-NeRF ``<i>.lms`` files (68 lines ``"x y"``, ``'%f'``) into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, pts in enumerate(self.points):
            path = directory / f"{start + i}.lms"
            _atomic_write(path, lambda f, p=pts: np.savetxt(f, p.astype(np.float64), "%f"), binary=True)
            paths.append(path)
        return paths

    @staticmethod
    def read_lms(path: str | Path) -> np.ndarray:
        """Read one ``.lms`` file as [68,2] float32."""
        arr = np.loadtxt(path, dtype=np.float64).reshape(-1, 2)
        if arr.shape != (N_POINTS, 2):
            raise BadInput(f"{path}: expected 68 landmark lines, got {arr.shape[0]}")
        return arr.astype(np.float32)

    # ------------------------------------------------------------------ OpenFace CSV
    def to_openface_csv(self, path: str | Path, fps: float = 25.0) -> Path:
        """Write OpenFace-style CSV rows (1-based ``frame``; ``confidence`` 0.98 detected / 0.5 interpolated)."""
        path = Path(path)
        lines = [", ".join(OPENFACE_COLUMNS)]
        for i in range(len(self)):
            conf = 0.98 if self.detected[i] else 0.5
            head = [str(i + 1), "0", f"{i / fps:.3f}", f"{conf:.2f}", "1"]
            xs = [f"{v:.1f}" for v in self.points[i, :, 0]]
            ys = [f"{v:.1f}" for v in self.points[i, :, 1]]
            lines.append(", ".join(head + xs + ys))
        text = "\n".join(lines) + "\n"
        _atomic_write(path, lambda f: f.write(text), binary=False)
        return path

    @staticmethod
    def read_openface_csv(path: str | Path) -> np.ndarray:
        """Read landmarks [N,68,2] the way LawDNet/DINet do (row[5:73] x, row[73:141] y, 1-based frames)."""
        import csv

        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        out = []
        for idx, row in enumerate(rows[1:]):
            if int(float(row[0])) != idx + 1:
                raise BadInput(f"{path}: frame numbers are not consecutive from 1 (row {idx + 1})")
            xs = [float(v) for v in row[5:73]]
            ys = [float(v) for v in row[73:141]]
            out.append(np.stack([xs, ys], axis=1))
        return np.asarray(out, dtype=np.float32).reshape(-1, N_POINTS, 2)


def _atomic_write(path: Path, write, binary: bool) -> None:
    from tfk.fsutil import atomic_path

    with atomic_path(path) as tmp, open(tmp, "wb" if binary else "w") as f:
        write(f)
