"""Test-time pose re-assignment (``choose_bg_gexinghua2_reassign.py``): real frames chosen by predicted pose.

The LSTM's pose does not reach the render directly: its yaw track picks keyframes, each keyframe is matched to
the real training frame with the closest angles (L1), searching around the previous match, and the indices
between keyframes are interpolated. The final head pose is therefore always a real pose of the target clip.
"""

from __future__ import annotations

import itertools

import numpy as np


def _smooth(x: np.ndarray, window: int = 7) -> np.ndarray:
    if len(x) < window:
        return x.copy()
    w = np.hanning(window)
    pad = np.pad(x, window // 2, mode="edge")
    return np.convolve(pad, w / w.sum(), mode="valid")


def keyframes(angles: np.ndarray, min_gap: int = 3) -> list[int]:
    """Local extrema of the smoothed axis-2 angle, pruned to at most N/10, >= ``min_gap`` apart, plus ends."""
    from scipy.signal import argrelextrema

    n = len(angles)
    y = _smooth(np.asarray(angles, np.float64)[:, 2])
    idx = np.sort(np.concatenate([argrelextrema(y, np.greater)[0], argrelextrema(y, np.less)[0]]))
    while len(idx) > max(1, n // 10):
        sub = y[idx]
        keep = np.sort(
            np.concatenate([argrelextrema(sub, np.greater, order=2)[0], argrelextrema(sub, np.less, order=2)[0]])
        )
        if len(keep) == 0 or len(keep) == len(idx):
            idx = idx[np.argsort(-np.abs(sub))[: max(1, n // 10)]]
            idx.sort()
            break
        idx = idx[keep]
    kept: list[int] = []
    for k in idx.tolist():
        if kept and k - kept[-1] < min_gap:
            if abs(y[k]) > abs(y[kept[-1]]):
                kept[-1] = k
            continue
        kept.append(k)
    return sorted({0, n - 1, *kept})


def match_frames(pred_angles: np.ndarray, real_angles: np.ndarray, speed: float = 1.0) -> np.ndarray:
    """Index of the real frame used for every predicted frame (N,)."""
    pred = np.asarray(pred_angles, np.float64)
    real = np.asarray(real_angles, np.float64)
    n, m = len(pred), len(real)
    if n == 1:
        return np.array([int(np.abs(real - pred[0]).sum(1).argmin())])
    keys = keyframes(pred)
    matched = [int(np.abs(real - pred[keys[0]]).sum(1).argmin())]
    for a, b in itertools.pairwise(keys):
        r = max(1, round(speed * (b - a)))
        lo, hi = max(0, matched[-1] - r), min(m, matched[-1] + r + 1)
        matched.append(lo + int(np.abs(real[lo:hi] - pred[b]).sum(1).argmin()))
    out = np.interp(np.arange(n), keys, matched)
    return np.clip(np.floor(out + 0.5).astype(int), 0, m - 1)


def ping_pong(n: int, m: int) -> np.ndarray:
    """``test_personalized2.py``: the real poses 0..m-1..0.. in order (``--pose video``)."""
    if m == 1:
        return np.zeros(n, int)
    period = 2 * (m - 1)
    k = np.arange(n) % period
    return np.where(k < m, k, period - k)
