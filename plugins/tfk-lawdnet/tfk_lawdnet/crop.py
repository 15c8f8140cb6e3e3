"""LawDNet's frontalised face crop and its inverse (paste-back).

Crop (reference notes §1.6): 25 of the 68 iBUG landmarks are fitted by least squares with a 4-DoF
similarity to a canonical mean face, giving a 3x3 matrix ``M`` from frame pixels to crop pixels; the
crop is ``W`` wide and ``int(1.3 W)`` high (``W = 1.25 * mouth``: 360x468 at mouth 288).

The original warps with ``affine_grid``/``grid_sample(align_corners=False)`` after normalising with the
``2/(W-1)`` convention, a ~0.5 px inconsistency the network was trained with. ``parity=True`` (the
default) reproduces that exact sampling (:func:`tfk.face.align.grid_sample_transform`); ``parity=False``
uses the plain pixel-centre mapping.

Paste-back (§4.2, improved): :func:`tfk.face.align.paste_back` inverse-warps the generated crop into the
frame (every frame pixel of the face region gets a value, whatever the scale), blended through the
feathered paste mask, clipped to the frame (no wrap-around), and never pastes the crop's border fill
(where the crop reached outside the frame).

The similarity fit, the crop warp and the paste-back are :mod:`tfk.face.align`'s; this module holds only
LawDNet's layout: the 25 landmarks, the canonical face, the crop size and the matrices in 3x3 form.
"""

from __future__ import annotations

import numpy as np

from tfk_lawdnet.mask import paste_mask

__all__ = [
    "LIST68TO25",
    "STANDARD_LM_25",
    "align_crop",
    "canonical_points",
    "crop_size",
    "estimate_similarity",
    "frame_to_crop_map",
    "matrices_from_landmarks",
    "paste_back",
    "transform_points",
]

LIST68TO25: tuple[int, ...] = (*range(17, 37), 39, 42, 45, 48, 54)

STANDARD_LM_25 = np.array(
    [
        [2.13256e-04, 1.06454e-01],
        [7.52622e-02, 3.89150e-02],
        [1.81130e-01, 1.87482e-02],
        [2.90770e-01, 3.44891e-02],
        [3.93397e-01, 7.73906e-02],
        [5.86856e-01, 7.73906e-02],
        [6.89483e-01, 3.44891e-02],
        [7.99124e-01, 1.87482e-02],
        [9.04991e-01, 3.89150e-02],
        [9.80040e-01, 1.06454e-01],
        [4.90127e-01, 2.03352e-01],
        [4.90127e-01, 3.07009e-01],
        [4.90127e-01, 4.09805e-01],
        [4.90127e-01, 5.15625e-01],
        [3.66880e-01, 5.87326e-01],
        [4.26036e-01, 6.09345e-01],
        [4.90127e-01, 6.28106e-01],
        [5.54217e-01, 6.09345e-01],
        [6.13373e-01, 5.87326e-01],
        [1.21737e-01, 2.16423e-01],
        [3.34606e-01, 2.31733e-01],
        [6.45647e-01, 2.31733e-01],
        [8.58516e-01, 2.16423e-01],
        [2.54149e-01, 7.80233e-01],
        [7.26104e-01, 7.80233e-01],
    ],
    dtype=np.float64,
)

RATIO = 1.6


def crop_size(mouth: int) -> tuple[int, int]:
    """``(H, W)`` of the face crop for a mouth region size (288 -> (468, 360), 64 -> (104, 80))."""
    w = int(mouth * 1.25)
    return int(1.3 * w), w


def _normalised_canonical(ratio: float = RATIO) -> np.ndarray:
    lm = STANDARD_LM_25
    up = (lm[2] + lm[7]) / 2
    mark = lm[12]
    scale = (mark - up)[1]
    center = up + (mark - up) * 6.5 / 4
    center = np.array([mark[0], center[1]])
    return (lm - center) / (ratio * scale)


_CANON = _normalised_canonical()


def canonical_points(out_w: int) -> np.ndarray:
    """The 25 target points (25, 2) in crop pixels for a crop ``out_w`` wide."""
    out_h = out_w * 1.3
    return _CANON * out_w / 2 + np.array([out_w / 2, out_h / 2])


def estimate_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 4-DoF similarity mapping ``src`` onto ``dst`` (:func:`tfk.face.align.similarity_from_points`).

    ``src``/``dst`` are (..., P, 2); returns (..., 3, 3) float64.
    """
    from tfk.face.align import similarity_from_points

    m2 = similarity_from_points(src, dst)
    m = np.zeros((*m2.shape[:-2], 3, 3))
    m[..., :2, :] = m2
    m[..., 2, 2] = 1.0
    return m


def matrices_from_landmarks(points68: np.ndarray, out_w: int) -> np.ndarray:
    """Frame->crop matrices (N, 3, 3) from 68-point landmarks (N, 68, 2) (or one (68, 2) -> (3, 3))."""
    pts = np.asarray(points68, np.float64)
    if pts.shape[-2:] != (68, 2):
        raise ValueError(f"expected (..., 68, 2) landmarks, got {pts.shape}")
    return estimate_similarity(pts[..., LIST68TO25, :], canonical_points(out_w))


def transform_points(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 3x3 affine matrix to points (..., 2)."""
    pts = np.asarray(pts, np.float64)
    return pts @ m[:2, :2].T + m[:2, 2]


def _sampling(m: np.ndarray, crop_hw: tuple[int, int], frame_hw: tuple[int, int], parity: bool) -> np.ndarray:
    """The (2, 3) frame->crop transform the crop is sampled with."""
    from tfk.face.align import grid_sample_transform

    m = np.asarray(m, np.float64)
    if not parity:
        return m[:2].copy()
    return grid_sample_transform(m[:2], (crop_hw[1], crop_hw[0]), (frame_hw[1], frame_hw[0]))


def frame_to_crop_map(m: np.ndarray, crop_hw: tuple[int, int], frame_hw: tuple[int, int], parity: bool = True):
    """3x3 map from frame pixel coordinates to crop pixel coordinates (the inverse of the crop sampling)."""
    return np.vstack([_sampling(m, crop_hw, frame_hw, parity), [0.0, 0.0, 1.0]])


def align_crop(frame: np.ndarray, m: np.ndarray, out_w: int, parity: bool = True) -> np.ndarray:
    """The frontalised crop (int(1.3 out_w), out_w, C) of ``frame`` under frame->crop matrix ``m``."""
    from tfk.face.align import crop

    out_h = int(1.3 * out_w)
    return crop(frame, _sampling(m, (out_h, out_w), frame.shape[:2], parity), (out_w, out_h), border="constant")


def paste_back(
    frame: np.ndarray,
    crop: np.ndarray,
    m: np.ndarray,
    parity: bool = True,
    mask: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Blend a (generated) crop back into ``frame`` (H, W, 3 uint8) under the frame->crop matrix ``m``.

    :func:`tfk.face.align.paste_back` with the feathered :func:`tfk_lawdnet.mask.paste_mask` (no extra
    feathering). Returns a new uint8 frame (or fills ``out``).
    """
    from tfk.face.align import paste_back as _paste

    ch, cw = crop.shape[:2]
    alpha = paste_mask(ch, cw) if mask is None else mask
    result = _paste(frame, crop, _sampling(m, (ch, cw), frame.shape[:2], parity), mask=alpha, feather=0)
    if out is not None:
        np.copyto(out, result)
        return out
    return result


def exact_crop(frame: np.ndarray, m: np.ndarray, out_w: int, parity: bool = True) -> np.ndarray:
    """:func:`align_crop` sampled exactly (float64 bilinear, zeros outside the frame), rounded to uint8.

    OpenCV's warp quantises sample positions to a 1/32-px grid and interpolates uint8 in fixed point
    (up to 4/255 off); this is within uint8 rounding (0.5/255) of the exact crop, for the template cache.
    """
    out_h = int(1.3 * out_w)
    frame = np.asarray(frame)
    h_in, w_in = frame.shape[:2]
    s = np.vstack([_sampling(m, (out_h, out_w), (h_in, w_in), parity), [0.0, 0.0, 1.0]])
    inv = np.linalg.inv(s)[:2]
    ys, xs = np.mgrid[0:out_h, 0:out_w].astype(np.float64)
    sx = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
    sy = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
    x0, y0 = np.floor(sx), np.floor(sy)
    fx, fy = (sx - x0)[..., None], (sy - y0)[..., None]
    padded = np.zeros((h_in + 2, w_in + 2, *frame.shape[2:]), np.float64)  # a ring of zeros: outside = 0
    padded[1:-1, 1:-1] = frame
    if padded.ndim == 2:
        padded = padded[..., None]
    xa = np.clip(x0 + 1, 0, w_in + 1).astype(np.intp)
    xb = np.clip(x0 + 2, 0, w_in + 1).astype(np.intp)
    ya = np.clip(y0 + 1, 0, h_in + 1).astype(np.intp)
    yb = np.clip(y0 + 2, 0, h_in + 1).astype(np.intp)
    top = padded[ya, xa] * (1 - fx) + padded[ya, xb] * fx
    bottom = padded[yb, xa] * (1 - fx) + padded[yb, xb] * fx
    out = top * (1 - fy) + bottom * fy
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out if frame.ndim == 3 else out[..., 0]
