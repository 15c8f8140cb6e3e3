"""LawDNet's frontalised face crop and its inverse (paste-back).

Crop (reference notes §1.6): 25 of the 68 iBUG landmarks are fitted by least squares with a 4-DoF
similarity to a canonical mean face, giving a 3x3 matrix ``M`` from frame pixels to crop pixels; the
crop is ``W`` wide and ``int(1.3 W)`` high (``W = 1.25 * mouth``: 360x468 at mouth 288).

The original warps with ``affine_grid``/``grid_sample(align_corners=False)`` after normalising with the
``2/(W-1)`` convention, a ~0.5 px inconsistency the network was trained with. ``parity=True`` (the
default) reproduces that exact sampling with an equivalent affine map; ``parity=False`` uses the plain
pixel-centre mapping.

Paste-back (§4.2, improved): the generated crop is inverse-warped into the frame (every frame pixel of
the face region gets a value, whatever the scale), blended through the feathered paste mask, clipped to
the frame (no wrap-around, no index errors).
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
    """Least-squares 4-DoF similarity ``[[a, b, tx], [-b, a, ty], [0, 0, 1]]`` mapping ``src`` onto ``dst``.

    ``src``/``dst`` are (..., P, 2); returns (..., 3, 3) float64.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    sm, dm = src.mean(-2, keepdims=True), dst.mean(-2, keepdims=True)
    s, d = src - sm, dst - dm
    denom = (s**2).sum((-1, -2)) + 1e-12
    a = (s[..., 0] * d[..., 0] + s[..., 1] * d[..., 1]).sum(-1) / denom
    b = (s[..., 1] * d[..., 0] - s[..., 0] * d[..., 1]).sum(-1) / denom
    mx, my = sm[..., 0, 0], sm[..., 0, 1]
    tx = dm[..., 0, 0] - a * mx - b * my
    ty = dm[..., 0, 1] + b * mx - a * my
    m = np.zeros((*a.shape, 3, 3))
    m[..., 0, 0], m[..., 0, 1], m[..., 0, 2] = a, b, tx
    m[..., 1, 0], m[..., 1, 1], m[..., 1, 2] = -b, a, ty
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


def _crop_to_frame_map(m: np.ndarray, crop_hw: tuple[int, int], frame_hw: tuple[int, int], parity: bool) -> np.ndarray:
    """3x3 map from crop pixel coordinates to the frame position sampled for it."""
    inv = np.linalg.inv(m)
    if not parity:
        return inv
    ho, wo = crop_hw
    hs, ws = frame_hw
    # crop pixel -> the "pixel" the 2/(W-1) normalisation assumes: (x + 0.5)(W-1)/W
    kx, ky = (wo - 1) / wo, (ho - 1) / ho
    s_o = np.array([[kx, 0, 0.5 * kx], [0, ky, 0.5 * ky], [0, 0, 1.0]])
    # that source "pixel" -> the pixel grid_sample(align_corners=False) reads: p W/(W-1) - 0.5
    s_s = np.array([[ws / (ws - 1), 0, -0.5], [0, hs / (hs - 1), -0.5], [0, 0, 1.0]])
    return s_s @ inv @ s_o


def frame_to_crop_map(m: np.ndarray, crop_hw: tuple[int, int], frame_hw: tuple[int, int], parity: bool = True):
    """3x3 map from frame pixel coordinates to crop pixel coordinates (the inverse of the crop sampling)."""
    return np.linalg.inv(_crop_to_frame_map(m, crop_hw, frame_hw, parity))


def align_crop(frame: np.ndarray, m: np.ndarray, out_w: int, parity: bool = True) -> np.ndarray:
    """The frontalised crop (int(1.3 out_w), out_w, C) of ``frame`` under frame->crop matrix ``m``."""
    import cv2

    out_h = int(1.3 * out_w)
    a = _crop_to_frame_map(m, (out_h, out_w), frame.shape[:2], parity)
    return cv2.warpAffine(
        frame,
        a[:2].astype(np.float64),
        (out_w, out_h),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def paste_back(
    frame: np.ndarray,
    crop: np.ndarray,
    m: np.ndarray,
    parity: bool = True,
    mask: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Blend a (generated) crop back into ``frame`` (H, W, 3 uint8) under the frame->crop matrix ``m``.

    Inverse warp + feathered mask (default :func:`tfk_lawdnet.mask.paste_mask`), restricted to the
    crop's bounding box clipped to the frame. Returns a new uint8 frame (or fills ``out``).
    """
    import cv2

    ch, cw = crop.shape[:2]
    fh, fw = frame.shape[:2]
    alpha = paste_mask(ch, cw) if mask is None else mask
    result = out if out is not None else frame.copy()
    if out is not None and out is not frame:
        np.copyto(result, frame)
    c2f = _crop_to_frame_map(m, (ch, cw), (fh, fw), parity)
    corners = np.array([[-0.5, -0.5], [cw - 0.5, -0.5], [-0.5, ch - 0.5], [cw - 0.5, ch - 0.5]])
    fc = transform_points(c2f, corners)
    x0 = max(int(np.floor(fc[:, 0].min())) - 1, 0)
    y0 = max(int(np.floor(fc[:, 1].min())) - 1, 0)
    x1 = min(int(np.ceil(fc[:, 0].max())) + 2, fw)
    y1 = min(int(np.ceil(fc[:, 1].max())) + 2, fh)
    if x1 <= x0 or y1 <= y0 or not np.isfinite(fc).all():
        return result  # the crop lies entirely outside the frame
    f2c = np.linalg.inv(c2f) @ np.array([[1.0, 0, x0], [0, 1.0, y0], [0, 0, 1.0]])
    size = (x1 - x0, y1 - y0)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    gen = cv2.warpAffine(crop, f2c[:2], size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    a = cv2.warpAffine(alpha, f2c[:2], size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    roi = result[y0:y1, x0:x1].astype(np.float32)
    a3 = a[..., None]
    roi += a3 * (gen.astype(np.float32) - roi)
    np.clip(roi + 0.5, 0, 255, out=roi)
    result[y0:y1, x0:x1] = roi.astype(np.uint8)
    return result
