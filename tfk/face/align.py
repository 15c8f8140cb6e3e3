"""Alignment and crops: point-set transforms, FFHQ quad (StyleHEAT), 5-point POS (Deep3DFaceRecon/PHADTF),
crop-and-resize with the inverse transform, and feathered paste-back that is safe at frame borders.

Transforms are 2x3 float64 matrices mapping *frame* pixel coordinates to *crop* pixel coordinates
(pixel centres at integer coordinates, as in OpenCV).
"""

from __future__ import annotations

import numpy as np

from tfk.errors import BadInput

#: Deep3DFaceRecon's standard 3D positions of the 5 points (left eye, right eye, nose tip, mouth left,
#: mouth right), derived from ``BFM/similarity_Lm3D_all.mat`` (the values its ``align_img`` docstring lists).
LM3D_STD = np.array(
    [
        [-0.31148657, 0.29036078, 0.13377953],
        [0.30979887, 0.28972036, 0.13179526],
        [0.0032535, -0.04617932, 0.55244243],
        [-0.25216928, -0.38133916, 0.22405732],
        [0.2484662, -0.38128236, 0.22235769],
    ]
)

_BORDERS = ("reflect", "constant", "replicate")


def _pts(a, name: str = "points", min_n: int = 1) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) < min_n or not np.isfinite(arr).all():
        raise BadInput(f"{name}: expected at least {min_n} finite (x, y) points, got shape {arr.shape}")
    return arr


def _lm68(lm) -> np.ndarray:
    arr = np.asarray(lm, dtype=np.float64)
    if arr.shape != (68, 2) or not np.isfinite(arr).all():
        raise BadInput(f"expected 68 finite landmarks (68, 2), got shape {arr.shape}")
    return arr


def _size(size) -> tuple[int, int]:
    w, h = (size, size) if np.isscalar(size) else size
    if int(w) < 1 or int(h) < 1:
        raise BadInput(f"invalid output size {size!r}")
    return int(w), int(h)


# ---------------------------------------------------------------------------------------------- transforms
def similarity_from_points(src, dst) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation; no reflection) mapping src -> dst.

    ``src``/``dst``: (P, 2) -> a (2, 3) transform, or batched (..., P, 2) -> (..., 2, 3). Closed form: the
    linear least squares over ``[[a, -b, tx], [b, a, ty]]`` (the same minimiser as Umeyama's, without SVD).
    """
    s_arr = np.asarray(src, dtype=np.float64)
    d_arr = np.asarray(dst, dtype=np.float64)
    if s_arr.ndim == 2 and d_arr.ndim == 2:
        s_arr, d_arr = _pts(src, "src", 2), _pts(dst, "dst", 2)
    elif s_arr.ndim > d_arr.ndim and s_arr.shape[-d_arr.ndim :] == d_arr.shape:
        d_arr = np.broadcast_to(d_arr, s_arr.shape)  # one target point set for a batch
    if s_arr.shape != d_arr.shape or s_arr.ndim < 2 or s_arr.shape[-1] != 2:
        raise BadInput(f"src and dst differ in shape or are not (..., P, 2): {s_arr.shape} vs {d_arr.shape}")
    mu_s, mu_d = s_arr.mean(-2, keepdims=True), d_arr.mean(-2, keepdims=True)
    s0, d0 = s_arr - mu_s, d_arr - mu_d
    denom = (s0**2).sum((-1, -2))
    if np.any(denom <= 1e-12 * s_arr.shape[-2]):
        raise BadInput("src points are all the same; no transform is defined")
    a = (s0[..., 0] * d0[..., 0] + s0[..., 1] * d0[..., 1]).sum(-1) / denom
    b = (s0[..., 0] * d0[..., 1] - s0[..., 1] * d0[..., 0]).sum(-1) / denom
    m = np.zeros((*a.shape, 2, 3))
    m[..., 0, 0], m[..., 0, 1] = a, -b
    m[..., 1, 0], m[..., 1, 1] = b, a
    m[..., :, 2] = mu_d[..., 0, :] - np.einsum("...ij,...j->...i", m[..., :, :2], mu_s[..., 0, :])
    return m


def grid_sample_transform(m, crop_size, frame_size) -> np.ndarray:
    """The frame->crop transform that is *actually sampled* when ``m`` (frame->crop, pixel centres) is fed
    to ``affine_grid`` + ``grid_sample(align_corners=False)`` after normalising with the ``2/(W-1)``
    convention (DINet/LawDNet's crops): that normalisation is off by about half a pixel, and a network
    trained on such crops expects it. ``crop_size``/``frame_size`` are ``(w, h)``. Returns (2, 3).
    """
    wo, ho = _size(crop_size)
    ws, hs = _size(frame_size)
    inv = np.linalg.inv(np.vstack([np.asarray(m, dtype=np.float64).reshape(2, 3), [0.0, 0.0, 1.0]]))
    # crop pixel -> the "pixel" the 2/(W-1) normalisation assumes: (x + 0.5)(W-1)/W
    kx, ky = (wo - 1) / wo, (ho - 1) / ho
    s_o = np.array([[kx, 0, 0.5 * kx], [0, ky, 0.5 * ky], [0, 0, 1.0]])
    # that source "pixel" -> the pixel grid_sample(align_corners=False) reads: p W/(W-1) - 0.5
    s_s = np.array([[ws / (ws - 1), 0, -0.5], [0, hs / (hs - 1), -0.5], [0, 0, 1.0]])
    return np.linalg.inv(s_s @ inv @ s_o)[:2].copy()


def affine_from_points(src, dst) -> np.ndarray:
    """Least-squares full affine (6 DoF) mapping src -> dst (at least 3 non-collinear points)."""
    src, dst = _pts(src, "src", 3), _pts(dst, "dst", 3)
    if src.shape != dst.shape:
        raise BadInput(f"src and dst differ in shape: {src.shape} vs {dst.shape}")
    a = np.hstack([src, np.ones((len(src), 1))])
    sol, _, rank, _ = np.linalg.lstsq(a, dst, rcond=None)
    if rank < 3:
        raise BadInput("src points are collinear; no affine transform is defined")
    return sol.T.copy()


def invert(m) -> np.ndarray:
    """Inverse of a 2x3 affine transform."""
    m = np.asarray(m, dtype=np.float64).reshape(2, 3)
    full = np.vstack([m, [0.0, 0.0, 1.0]])
    if abs(np.linalg.det(full)) < 1e-12:
        raise BadInput("transform is singular and cannot be inverted")
    return np.linalg.inv(full)[:2].copy()


def compose(second, first) -> np.ndarray:
    """The transform applying ``first`` then ``second``."""
    a = np.vstack([np.asarray(second, dtype=np.float64).reshape(2, 3), [0, 0, 1]])
    b = np.vstack([np.asarray(first, dtype=np.float64).reshape(2, 3), [0, 0, 1]])
    return (a @ b)[:2].copy()


def transform_points(m, pts) -> np.ndarray:
    """Apply a 2x3 transform to [N,2] points."""
    m = np.asarray(m, dtype=np.float64).reshape(2, 3)
    pts = np.asarray(pts, dtype=np.float64)
    return pts @ m[:, :2].T + m[:, 2]


# ---------------------------------------------------------------------------------------------- crop / paste
def crop(img: np.ndarray, m, size, border: str = "reflect", value: float = 0, interpolation: str = "linear"):
    """Warp ``img`` by ``m`` into a ``size`` (int or (w, h)) crop; outside the frame is padded per ``border``."""
    import cv2

    if border not in _BORDERS:
        raise BadInput(f"border must be one of {', '.join(_BORDERS)}, got {border!r}")
    w, h = _size(size)
    modes = {"reflect": cv2.BORDER_REFLECT_101, "constant": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE}
    interp = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC, "nearest": cv2.INTER_NEAREST,
              "lanczos": cv2.INTER_LANCZOS4}[interpolation]  # fmt: skip
    img = np.asarray(img)
    if img.ndim not in (2, 3) or min(img.shape[:2]) < 1:
        raise BadInput(f"expected an image HxW[xC], got shape {img.shape}")
    m = np.asarray(m, dtype=np.float64).reshape(2, 3)
    return cv2.warpAffine(img, m, (w, h), flags=interp, borderMode=modes[border], borderValue=value)


def feather_mask(size, feather: float) -> np.ndarray:
    """A float32 (h, w) mask: 1 inside, ramping smoothly to 0 over ``feather`` px at the edges."""
    w, h = _size(size)
    if feather <= 0:
        return np.ones((h, w), np.float32)
    x = np.minimum(np.arange(w) + 0.5, w - 0.5 - np.arange(w))
    y = np.minimum(np.arange(h) + 0.5, h - 0.5 - np.arange(h))
    d = np.minimum(y[:, None], x[None, :]) / float(feather)
    d = np.clip(d, 0.0, 1.0)
    return (d * d * (3 - 2 * d)).astype(np.float32)


def paste_back(frame: np.ndarray, crop_img: np.ndarray, m, mask=None, feather: float | None = None) -> np.ndarray:
    """Blend ``crop_img`` (made with transform ``m``) back into a copy of ``frame``.

    ``mask`` (crop-sized, [0,1] float or uint8 0..255) defaults to the whole crop; it is feathered by
    ``feather`` px (default 6 % of the crop's shorter side; 0 for a hard edge). Only the crop's
    footprint inside the frame is touched: crops partly outside the frame never wrap or fail. Crop pixels
    that were sampled (even in part) from outside the source frame -- the crop's border fill -- are never
    pasted: a frame pixel whose interpolation would reach one keeps its own value.
    """
    import cv2

    frame = np.asarray(frame)
    crop_img = np.asarray(crop_img)
    if frame.ndim != crop_img.ndim or (frame.ndim == 3 and frame.shape[2] != crop_img.shape[2]):
        raise BadInput(f"crop {crop_img.shape} does not match frame {frame.shape} in channels")
    h, w = crop_img.shape[:2]
    hf, wf = frame.shape[:2]
    if feather is None:
        feather = 0.06 * min(h, w)
    alpha = feather_mask((w, h), feather)
    if mask is not None:
        mk = np.asarray(mask, dtype=np.float32)
        if mk.ndim == 3:
            mk = mk[..., 0]
        if mk.shape != (h, w):
            raise BadInput(f"mask shape {mk.shape} does not match crop {(h, w)}")
        if mk.max(initial=0) > 1.0:
            mk = mk / 255.0
        if feather > 0:
            k = int(2 * round(feather) + 1)
            mk = cv2.GaussianBlur(mk, (k, k), feather / 2.0)
        alpha = alpha * np.clip(mk, 0.0, 1.0)
    inv = invert(m)
    corners = transform_points(inv, [[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
    x0, y0 = np.floor(corners.min(0)).astype(int)
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(wf, x1), min(hf, y1)
    out = frame.copy()
    if x1 <= x0 or y1 <= y0:
        return out  # the crop lies entirely outside the frame
    m_roi = compose(m, [[1, 0, x0], [0, 1, y0]])  # ROI pixel -> crop pixel
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    size = (x1 - x0, y1 - y0)
    src = crop_img.astype(np.float32)
    warped = cv2.warpAffine(src, m_roi, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    a = cv2.warpAffine(alpha, m_roi, size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    a *= _inside_source(m, m_roi, (w, h), (wf, hf), size)
    if warped.ndim == 3:
        a = a[..., None]
    region = out[y0:y1, x0:x1].astype(np.float32)
    blended = region * (1.0 - a) + warped * a
    if np.issubdtype(frame.dtype, np.integer):
        info = np.iinfo(frame.dtype)
        blended = np.clip(np.rint(blended), info.min, info.max)
    out[y0:y1, x0:x1] = blended.astype(frame.dtype)
    return out


def _inside_source(m, m_roi, crop_wh: tuple[int, int], frame_wh: tuple[int, int], roi_wh: tuple[int, int]):
    """1 where a ROI pixel's crop sample uses only crop pixels that lie wholly inside the source frame."""
    import cv2

    w, h = crop_wh
    # the fraction of each crop pixel's own sample that came from inside the frame (1 inside, <1 at the fill)
    cover = cv2.warpAffine(np.ones(frame_wh[::-1], np.float32), np.asarray(m, np.float64).reshape(2, 3), (w, h),
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # fmt: skip
    valid = (cover >= 1.0 - 1e-3).astype(np.float32)
    back = cv2.warpAffine(valid, m_roi, roi_wh, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    return (back >= 1.0 - 1e-3).astype(np.float32)


# ---------------------------------------------------------------------------------------------- FFHQ (StyleHEAT)
def ffhq_quad(landmarks68) -> np.ndarray:
    """The FFHQ alignment quad [4,2] (top-left, bottom-left, bottom-right, top-right) from 68 landmarks."""
    lm = _lm68(landmarks68)
    eye_left, eye_right = lm[36:42].mean(0), lm[42:48].mean(0)
    eye_avg = (eye_left + eye_right) / 2
    eye_to_eye = eye_right - eye_left
    mouth_avg = (lm[48] + lm[54]) / 2
    eye_to_mouth = mouth_avg - eye_avg
    x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.flipud(x) * [-1, 1]
    c = eye_avg + eye_to_mouth * 0.1
    return np.stack([c - x - y, c - x + y, c + x + y, c + x - y])


def align_ffhq(img: np.ndarray, lm, size: int = 256, transform_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """FFHQ-aligned square crop (StyleHEAT's recipe: quad -> ``transform_size`` bilinear -> ``size`` Lanczos).

    Returns ``(aligned, M)`` with ``M`` mapping frame pixels to aligned pixels. Outside the frame is black
    (the recipe's padding is disabled). Large downscales are pre-shrunk like the recipe's shrink step.
    """
    import cv2

    quad = ffhq_quad(lm)
    img = np.asarray(img)
    qsize = np.hypot(*(quad[3] - quad[0]))
    shrink = int(np.floor(qsize / transform_size * 0.5))
    pre = np.eye(3)[:2]
    if shrink > 1:
        h, w = img.shape[:2]
        new = (int(np.rint(w / shrink)), int(np.rint(h / shrink)))
        img = cv2.resize(img, new, interpolation=cv2.INTER_AREA)
        pre = np.array([[new[0] / w, 0, 0], [0, new[1] / h, 0]])
    t = float(transform_size)
    dst = np.array([[0, 0], [0, t], [t, t], [t, 0]]) - 0.5
    m_big = affine_from_points(transform_points(pre, quad) - 0.5, dst)  # PIL corner coords -> OpenCV centres
    big = crop(img, m_big, transform_size, border="constant")
    m = compose(m_big, pre)
    if size != transform_size:
        big = cv2.resize(
            big, (size, size), interpolation=cv2.INTER_LANCZOS4 if size > transform_size else cv2.INTER_AREA
        )
        k = size / transform_size
        m = compose([[k, 0, 0.5 * k - 0.5], [0, k, 0.5 * k - 0.5]], m)
    return big, m


# ------------------------------------------------------------------------------------- 5 points (Deep3D/PHADTF)
def five_points(lm68, scheme: str = "deep3d") -> np.ndarray:
    """68 -> 5 points [L-eye, R-eye, nose, mouth-L, mouth-R].

    ``deep3d`` (Deep3DFaceRecon ``extract_5p``): eyes = mean of corners (36, 39) / (42, 45), nose = 30.
    ``phadtf`` (PHADTF frame txt): eyes = mean of 36:42 / 42:48, nose = 33.
    """
    lm = _lm68(lm68)
    if scheme == "deep3d":
        eyes = [lm[[36, 39]].mean(0), lm[[42, 45]].mean(0)]
        nose = lm[30]
    elif scheme == "phadtf":
        eyes = [lm[36:42].mean(0), lm[42:48].mean(0)]
        nose = lm[33]
    else:
        raise BadInput(f"unknown 5-point scheme {scheme!r}; choose deep3d or phadtf")
    return np.stack([eyes[0], eyes[1], nose, lm[48], lm[54]])


def pos(xp: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float]:
    """Deep3DFaceRecon's POS: affine camera fit of 2D points ``xp`` [2,N] to 3D points ``x`` [3,N] -> (t, s)."""
    n = xp.shape[1]
    a = np.zeros((2 * n, 8))
    a[0::2, 0:3] = x.T
    a[0::2, 3] = 1
    a[1::2, 4:7] = x.T
    a[1::2, 7] = 1
    b = xp.T.reshape(2 * n, 1)
    k = np.linalg.lstsq(a, b, rcond=None)[0].ravel()
    s = (np.linalg.norm(k[0:3]) + np.linalg.norm(k[4:7])) / 2
    return np.array([k[3], k[7]]), float(s)


def align_5pt_deep3d(
    img: np.ndarray, lm, target_size: int = 224, rescale_factor: float = 102.0, lm3d: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deep3DFaceRecon's ``align_img``: POS on 5 points, rescale by ``rescale_factor / s``, crop ``target_size``.

    ``lm``: 68 or 5 points in image coordinates (y down). Returns ``(crop, lm_crop, trans_params)`` with
    ``lm_crop`` in crop image coordinates (y down; Deep3D's own copy is y-flipped: ``target_size - 1 - y``)
    and ``trans_params = [w0, h0, s, t0, t1]`` exactly as the original (t in the y-up frame).
    """
    import cv2

    img = np.asarray(img)
    h0, w0 = img.shape[:2]
    lm = np.asarray(lm, dtype=np.float64)
    lm5 = five_points(lm) if lm.shape == (68, 2) else _pts(lm, "lm", 5)
    if lm5.shape != (5, 2):
        raise BadInput(f"expected 68 or 5 landmarks, got shape {lm.shape}")
    ref = LM3D_STD if lm3d is None else np.asarray(lm3d, dtype=np.float64)
    flipped = lm5.copy()
    flipped[:, 1] = h0 - 1 - flipped[:, 1]
    t, s = pos(flipped.T, ref.T)
    s = rescale_factor / s
    w, h = int(w0 * s), int(h0 * s)
    if w < 1 or h < 1:
        raise BadInput("face too small to align")
    left = int(w / 2 - target_size / 2 + float((t[0] - w0 / 2) * s))
    up = int(h / 2 - target_size / 2 + float((h0 / 2 - t[1]) * s))
    resized = cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC if s >= 1 else cv2.INTER_AREA)
    out = crop(resized, [[1, 0, -left], [0, 1, -up]], target_size, border="constant", interpolation="nearest")
    sx, sy = w / w0, h / h0
    m = np.array([[sx, 0, 0.5 * sx - 0.5 - left], [0, sy, 0.5 * sy - 0.5 - up]])
    lm_crop = transform_points(m, lm).astype(np.float32)
    return out, lm_crop, np.array([w0, h0, s, t[0], t[1]], dtype=np.float64)
