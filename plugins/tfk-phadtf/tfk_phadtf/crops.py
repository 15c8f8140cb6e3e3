"""Deep3D crops of a frame from given ``trans_params`` (PHADTF's Preprocess2: frame 0's transform for all).

``trans_params = [w0, h0, s, t0, t1]`` (s already ``102 / s_pos``): the image is resized by ``s`` and the
224x224 window at ``(w/2 - 112 + (t0 - w0/2) s, h/2 - 112 + (h0/2 - t1) s)`` is cut out, as
:func:`tfk.tdmm.deep3d.align_image` does for a frame's own transform.
"""

from __future__ import annotations

import numpy as np

SIZE = 224


def crop_box(tp: np.ndarray) -> tuple[float, int, int, int, int]:
    w0, h0, s, t0, t1 = (float(v) for v in tp)
    w, h = int(w0 * s), int(h0 * s)
    left = int(w / 2 - SIZE / 2 + (t0 - w0 / 2) * s)
    up = int(h / 2 - SIZE / 2 + (h0 / 2 - t1) * s)
    return s, w, h, left, up


def crop_with(img: np.ndarray, tp: np.ndarray) -> np.ndarray:
    import cv2

    _s, w, h, left, up = crop_box(tp)
    resized = cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC)
    out = np.zeros((SIZE, SIZE, 3), np.uint8)
    x0, y0, x1, y1 = max(left, 0), max(up, 0), min(left + SIZE, w), min(up + SIZE, h)
    if x1 > x0 and y1 > y0:
        out[y0 - up : y1 - up, x0 - left : x1 - left] = resized[y0:y1, x0:x1]
    return out


def to_crop(points: np.ndarray, tp: np.ndarray) -> np.ndarray:
    """Image points (y down) -> crop pixel coordinates (y down) of the crop made with ``tp``."""
    _s, w, h, left, up = crop_box(tp)
    p = np.asarray(points, np.float64)
    return np.stack([p[..., 0] * w / tp[0] - left, p[..., 1] * h / tp[1] - up], -1)


def crop_to_image(tp: np.ndarray) -> np.ndarray:
    """2x3 affine mapping crop pixels back to image pixels (for pasting the face into the full frame)."""
    _s, w, h, left, up = crop_box(tp)
    sx, sy = tp[0] / w, tp[1] / h
    return np.array([[sx, 0.0, left * sx], [0.0, sy, up * sy]])
