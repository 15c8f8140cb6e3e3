"""Head-pose statistics from per-frame Euler angles [N,3] (pitch, yaw, roll; degrees or radians, as given).

Definitions:

* ``mean`` / ``std``: per-axis mean and population standard deviation (ddof=0);
* ``velocity``: per-axis mean absolute frame-to-frame difference, Σ|θₜ₊₁-θₜ|/(N-1) (units per frame);
* ``range``: per-axis max - min;
* ``diversity``: mean over the three axes of ``std`` — a single "how much does the head move" score
  (0 for a frozen head), following the pose-diversity statistics used in audio-driven head-pose work;
* :func:`pose_similarity` (``hs_provisional``): per-axis histogram intersection of the two angle
  distributions on a shared range (``bins`` bins), averaged over axes; 1 = identical distributions.
  PHADTF's published "HS" formula is unconfirmed: this is a provisional stand-in, labelled as such.
"""

from __future__ import annotations

import numpy as np

from tfk.errors import BadInput

AXES = ("pitch", "yaw", "roll")


def _angles(euler) -> np.ndarray:
    a = np.asarray(euler, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 3 or len(a) == 0:
        raise BadInput(f"head pose: expected Euler angles [N,3] with N >= 1, got shape {list(a.shape)}")
    if not np.isfinite(a).all():
        raise BadInput("head pose: Euler angles contain non-finite values")
    return a


def pose_stats(euler) -> dict:
    """Statistics of a pose track [N,3] (see the module docstring)."""
    a = _angles(euler)
    vel = np.abs(np.diff(a, axis=0)).mean(axis=0) if len(a) > 1 else np.zeros(3)
    std = a.std(axis=0)
    return {
        "frames": len(a),
        "mean": dict(zip(AXES, a.mean(axis=0).tolist(), strict=True)),
        "std": dict(zip(AXES, std.tolist(), strict=True)),
        "velocity": dict(zip(AXES, vel.tolist(), strict=True)),
        "range": dict(zip(AXES, (a.max(axis=0) - a.min(axis=0)).tolist(), strict=True)),
        "diversity": float(std.mean()),
    }


def pose_similarity(generated, reference, bins: int = 30) -> float:
    """Provisional head-pose similarity (``hs_provisional``) in [0, 1]; see the module docstring."""
    g, r = _angles(generated), _angles(reference)
    scores = []
    for k in range(3):
        lo = min(g[:, k].min(), r[:, k].min())
        hi = max(g[:, k].max(), r[:, k].max())
        if hi - lo < 1e-12:
            scores.append(1.0)
            continue
        hg, _ = np.histogram(g[:, k], bins=bins, range=(lo, hi))
        hr, _ = np.histogram(r[:, k], bins=bins, range=(lo, hi))
        scores.append(float(np.minimum(hg / len(g), hr / len(r)).sum()))
    return float(np.mean(scores))
