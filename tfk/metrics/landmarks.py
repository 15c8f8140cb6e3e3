"""Landmark distance (LMD) between generated and reference 68-point (iBUG) landmarks.

Definition used by tfk (the ER-NeRF / AD-NeRF evaluation convention): for each frame, both landmark sets
are **mean-centred** over the points of the region (translation removed, no scaling or rotation), then
LMD = mean over points of the Euclidean distance between corresponding points, averaged over frames;
in pixels of the reference frame. Regions: ``mouth`` = points 48–67 (M-LMD, the original LMD of Chen et
al. 2018 / ER-NeRF's reported "LMD"), ``face`` = all 68 points (F-LMD). ``align="none"`` skips the
centring (raw image coordinates). Frames where either set holds a non-finite value (no face; in
:func:`video_lmd` also frames the tracker only interpolated) are left out and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfk.errors import BadInput

REGIONS: dict[str, slice] = {"mouth": slice(48, 68), "face": slice(0, 68)}


@dataclass
class LMDResult:
    value: float  # nan when no frame is usable
    per_frame: np.ndarray  # [N] (nan for skipped frames)
    frames_used: int
    frames_skipped: int


def _check(points, name: str) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.ndim == 2:
        p = p[None]
    if p.ndim != 3 or p.shape[1] != 68 or p.shape[2] < 2:
        raise BadInput(f"LMD: {name} landmarks must be [N,68,2], got shape {list(p.shape)}")
    return p[..., :2]


def lmd_per_frame(pred, gt, region: str = "mouth", align: str = "center") -> np.ndarray:
    """Per-frame LMD [N] (nan where a frame lacks landmarks)."""
    if region not in REGIONS:
        raise ValueError(f"unknown LMD region {region!r} (mouth, face)")
    if align not in ("center", "none"):
        raise ValueError(f"unknown LMD alignment {align!r} (center, none)")
    a, b = _check(pred, "generated"), _check(gt, "reference")
    if len(a) != len(b):
        raise BadInput(f"LMD: {len(a)} generated vs {len(b)} reference landmark frames")
    a, b = a[:, REGIONS[region]], b[:, REGIONS[region]]
    if align == "center":
        a = a - a.mean(axis=1, keepdims=True)
        b = b - b.mean(axis=1, keepdims=True)
    return np.linalg.norm(a - b, axis=2).mean(axis=1)


def lmd(pred, gt, region: str = "mouth", align: str = "center") -> LMDResult:
    """LMD of two landmark arrays [N,68,2] (see the module docstring)."""
    per = lmd_per_frame(pred, gt, region, align)
    ok = np.isfinite(per)
    value = float(per[ok].mean()) if ok.any() else float("nan")
    return LMDResult(value, per, int(ok.sum()), int((~ok).sum()))


def _points_of(track) -> np.ndarray:
    """Landmarks [N,68,2] of a track; frames the tracker only interpolated (``detected`` False) become nan."""
    pts = getattr(track, "points", track)
    if pts is None:
        raise BadInput("LMD: the landmark tracker returned no points")
    out = np.array(pts, dtype=np.float64)
    detected = getattr(track, "detected", None)
    if detected is not None and len(detected) == len(out):
        out[~np.asarray(detected, dtype=bool)] = np.nan
    return out


def video_lmd(
    generated: str | Path,
    reference: str | Path,
    n_frames: int | None = None,
    scale: tuple[float, float] = (1.0, 1.0),
    align: str = "center",
) -> dict[str, float | int]:
    """M-LMD and F-LMD of two videos, tracking landmarks with :func:`tfk.face.track_landmarks`.

    ``n_frames`` truncates both tracks (frame-count alignment); ``scale`` = (sx, sy) maps generated pixel
    coordinates to the reference frame size.
    """
    from tfk.face import track_landmarks  # lazy: needs the face extra (dlib)

    g = _points_of(track_landmarks(generated))
    r = _points_of(track_landmarks(reference))
    n = min(len(g), len(r)) if n_frames is None else min(n_frames, len(g), len(r))
    g, r = g[:n], r[:n]
    g[..., 0] *= scale[0]
    g[..., 1] *= scale[1]
    mouth, face = lmd(g, r, "mouth", align), lmd(g, r, "face", align)
    return {
        "lmd_mouth": mouth.value,
        "lmd_face": face.value,
        "lmd_frames": mouth.frames_used,
        "lmd_frames_skipped": mouth.frames_skipped,
    }
