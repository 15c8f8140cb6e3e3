"""Blink intensity for ER-NeRF's eye control: OpenFace ``au.csv``, or a landmark eye-aspect-ratio estimate.

ER-NeRF reads the AU45 intensity column (``' AU45_r'``; the Avatar reads ``'AU45_r'``) and uses
``clip(AU45_r, 0, 2) / 2``. Without OpenFace's ``FeatureExtraction`` binary, :func:`ear_au45` estimates it from
the 68 landmarks: the eye aspect ratio ``(|p2-p6| + |p3-p5|) / (2 |p1-p4|)`` of both eyes, its open-eye level
taken as the clip's 90th percentile, closure ``= clip((open - ear) / (0.75 open), 0, 1)`` (a closed eye keeps
about a quarter of the open ratio), mapped to the AU45 scale as ``2 * closure`` so that ER-NeRF's
``clip(., 0, 2) / 2`` recovers the closure. This is an estimate, not OpenFace: it is labelled as such.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from tfk.errors import BadInput, Unavailable

OPENFACE_BIN = "FeatureExtraction"
COLUMNS = ("frame", "face_id", "timestamp", "confidence", "success", "AU45_r")
EAR_SOURCE = "landmark-ear-estimate"
OPENFACE_SOURCE = "openface"


def eye_aspect_ratio(lms: np.ndarray) -> np.ndarray:
    """``[N]`` mean eye aspect ratio of both eyes from ``[N,68,2]`` landmarks."""
    p = np.asarray(lms, dtype=np.float64)

    def one(e: np.ndarray) -> np.ndarray:
        v = np.linalg.norm(e[:, 1] - e[:, 5], axis=-1) + np.linalg.norm(e[:, 2] - e[:, 4], axis=-1)
        return v / (2 * np.maximum(np.linalg.norm(e[:, 0] - e[:, 3], axis=-1), 1e-6))

    return (one(p[:, 36:42]) + one(p[:, 42:48])) / 2


def ear_au45(lms: np.ndarray) -> np.ndarray:
    """AU45-scale blink estimate ``[N]`` in [0, 2] (see the module docstring)."""
    ear = eye_aspect_ratio(lms)
    if ear.size == 0:
        raise BadInput("no landmarks to estimate blinks from")
    open_level = max(float(np.percentile(ear, 90)), 1e-6)
    closure = np.clip((open_level - ear) / (0.75 * open_level), 0.0, 1.0)
    return 2.0 * closure


def write_au_csv(path: str | Path, au45: np.ndarray, fps: float = 25.0) -> Path:
    """An OpenFace-style CSV (``", "``-separated header, 1-based ``frame``) with the ``AU45_r`` column, atomically."""
    from tfk.fsutil import atomic_write_text

    lines = [", ".join(COLUMNS)]
    for i, v in enumerate(np.asarray(au45, dtype=np.float64)):
        lines.append(", ".join([str(i + 1), "0", f"{i / fps:.3f}", "0.98", "1", f"{v:.2f}"]))
    return atomic_write_text(path, "\n".join(lines) + "\n")


def read_au45(path: str | Path) -> np.ndarray:
    """The AU45 intensity column of an OpenFace CSV (header whitespace stripped: both spellings work)."""
    import csv

    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise BadInput(f"{path}: empty CSV")
    header = [h.strip() for h in rows[0]]
    if "AU45_r" not in header:
        raise BadInput(f"{path}: no AU45_r column")
    k = header.index("AU45_r")
    return np.array([float(r[k]) for r in rows[1:] if len(r) > k], dtype=np.float64)


def openface_available() -> bool:
    return shutil.which(OPENFACE_BIN) is not None


def run_openface(video: str | Path, out_csv: str | Path) -> Path:
    """``FeatureExtraction -f VIDEO -out_dir D -aus`` and copy its CSV to ``out_csv`` (the Avatar's recipe)."""
    exe = shutil.which(OPENFACE_BIN)
    if exe is None:
        raise Unavailable(f"OpenFace '{OPENFACE_BIN}' is not on PATH", hint="install OpenFace or use --blinks ear")
    with tempfile.TemporaryDirectory(prefix="tfk-openface-") as d:
        proc = subprocess.run([exe, "-f", str(video), "-out_dir", d, "-aus"], capture_output=True, text=True)
        csvs = sorted(Path(d).glob("*.csv"))
        if proc.returncode != 0 or not csvs:
            tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-1:] or ["no output"]
            raise BadInput(f"OpenFace FeatureExtraction failed on {video}: {tail[0]}")
        from tfk.fsutil import atomic_write_bytes

        return atomic_write_bytes(out_csv, csvs[0].read_bytes())
