"""Test-time pose re-assignment (``choose_bg_gexinghua2_reassign.py``): real frames chosen by predicted pose.

The LSTM's pose does not reach the render directly: its yaw track picks keyframes, each keyframe is matched to
the real training frame with the closest angles (L1), searching around the previous match, and the indices
between keyframes are interpolated. The final head pose is therefore always a real pose of the target clip.
"""

from __future__ import annotations

import numpy as np


def smooth(x: np.ndarray, window: int = 7) -> np.ndarray:
    """Hanning smoothing with reflected ends (the original's ``smooth``); same length as ``x``."""
    x = np.asarray(x, np.float64)
    if x.size < window or window < 3:
        return x.copy()
    s = np.r_[x[window - 1 : 0 : -1], x, x[-2 : -window - 1 : -1]]
    w = np.hanning(window)
    y = np.convolve(w / w.sum(), s, mode="valid")
    return y[window // 2 : -(window // 2)]


def keyframes(angles: np.ndarray, min_gap: int = 3) -> list[int]:
    """Keyframes of the axis-2 angle track: extrema of the smoothed curve, pruned with ``argrelextrema(order=2)``
    until there are at most N/10, neighbours closer than ``min_gap`` merged (the larger max|angle| wins), plus
    frames 0 and N-1."""
    from scipy.signal import argrelextrema

    data = np.asarray(angles, np.float64)
    n = len(data)
    y0 = smooth(data[:, 2])
    ids = np.sort(np.concatenate([argrelextrema(y0, np.greater)[0], argrelextrema(y0, np.less)[0]]))
    while len(ids) > n / 10.0:
        y = y0[ids]
        keep = np.concatenate([argrelextrema(y, np.greater, order=2)[0], argrelextrema(y, np.less, order=2)[0]])
        if len(keep) >= len(ids):  # cannot shrink further (the original would loop forever here)
            break
        ids = np.sort(ids[keep])
    ids = np.sort(np.unique(ids)).astype(int)
    for i in range(1, len(ids)):  # in place, as the original: a -1 mark takes part in the next comparison
        if ids[i] - ids[i - 1] < min_gap:
            if np.abs(data[ids[i]]).max() > np.abs(data[ids[i - 1]]).max():
                ids[i - 1] = -1
            else:
                ids[i] = -1
    ids = ids[ids != -1]
    return [0, *ids.tolist(), n - 1]


def _nearest(real: np.ndarray, query: np.ndarray) -> int:
    return int(np.argmin(np.abs(real[:, :3] - query[:3]).sum(1)))


def match_frames(pred_angles: np.ndarray, real_angles: np.ndarray, speed: float = 1.0) -> np.ndarray:
    """Index of the real frame used for every predicted frame (N,): keyframe 0 -> the nearest real pose (L1 of
    the angles) over all frames; each next keyframe -> the nearest within ``[I - speed*period, I + speed*period)``
    of the previous match; between keyframes the index is interpolated and rounded (Python ``round``)."""
    pred = np.asarray(pred_angles, np.float64)
    real = np.asarray(real_angles, np.float64)
    n, m = len(pred), len(real)
    if n == 1:
        return np.array([_nearest(real, pred[0])])
    keys = keyframes(pred)
    matched = [_nearest(real, pred[0])]
    for i in range(1, len(keys)):
        period = keys[i] - keys[i - 1]
        lo = max(0, int(matched[-1] - speed * period))
        hi = min(m, matched[-1] + int(speed * period))
        matched.append(lo + _nearest(real[lo:hi], pred[keys[i]]))
    out = np.zeros(n, dtype=int)
    for i in range(len(keys) - 1):
        a, length = keys[i], keys[i + 1] - keys[i]
        out[a] = matched[i]
        for j in range(1, length):
            out[a + j] = round(j / length * (matched[i + 1] - matched[i]) + matched[i])
    out[keys[-1]] = matched[-1]
    return out


def ping_pong(n: int, m: int) -> np.ndarray:
    """``test_personalized2.py``: the real poses 0..m-1..0.. in order (``--pose video``)."""
    if m == 1:
        return np.zeros(n, int)
    period = 2 * (m - 1)
    k = np.arange(n) % period
    return np.where(k < m, k, period - k)
