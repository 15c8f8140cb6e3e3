"""Background plate (``bc.jpg``) and the ground-truth / torso images the NeRF originals train on."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tfk.errors import BadInput
from tfk.face.parsing.masks import BACKGROUND, HEAD, NECK, TORSO


def foreground_of(mask: np.ndarray) -> np.ndarray:
    """Foreground from a region map (non-zero), a bool mask, or an AD-NeRF colour mask (non-white)."""
    m = np.asarray(mask)
    if m.ndim == 3:
        return ~np.all(m[..., :3] == 255, axis=2)
    if m.dtype == bool:
        return m
    return m != BACKGROUND


def estimate_background(
    frames: Iterable[np.ndarray], masks: Iterable[np.ndarray], step: int = 20, min_distance: float = 5.0
) -> np.ndarray:
    """The AD-NeRF/ER-NeRF background plate from every ``step``-th frame and its parsing mask (streamed).

    Per pixel keep the sampled frame where the pixel is farthest from the person; pixels whose best
    distance exceeds ``min_distance`` take that frame's colour, the rest (always near the person) take
    the colour of the nearest such pixel. Frames and masks are consumed in lockstep; only the plate and
    one distance map are held in memory.
    """
    import cv2
    from scipy.ndimage import distance_transform_edt

    if step < 1:
        raise BadInput(f"step must be >= 1, got {step}")
    best_d: np.ndarray | None = None
    plate: np.ndarray | None = None
    used = 0
    for i, (frame, mask) in enumerate(zip(frames, masks, strict=False)):
        if i % step:
            continue
        frame = np.asarray(frame)
        fg = foreground_of(mask)
        if fg.shape != frame.shape[:2]:
            raise BadInput(f"mask {fg.shape} does not match frame {frame.shape[:2]} (frame {i})")
        if fg.any():
            d = cv2.distanceTransform((~fg).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        else:
            d = np.full(fg.shape, np.float32(1e6))
        if best_d is None:
            best_d, plate = d, frame.copy()
        else:
            if d.shape != best_d.shape:
                raise BadInput(f"frame {i} is {frame.shape[1]}x{frame.shape[0]}, earlier frames differ")
            better = d > best_d
            best_d = np.where(better, d, best_d)
            plate[better] = frame[better]
        used += 1
    if best_d is None or plate is None:
        raise BadInput("no frames to estimate the background from")
    valid = best_d > min_distance
    if not valid.any():
        raise BadInput("the person covers the whole frame in every sampled frame; no background is visible")
    if not valid.all():
        _, (iy, ix) = distance_transform_edt(~valid, return_indices=True)
        plate = plate[iy, ix]
    return plate


def gt_image(frame: np.ndarray, regions: np.ndarray, bc: np.ndarray) -> np.ndarray:
    """``gt_imgs/<i>.jpg`` (ER-NeRF) = AD-NeRF ``com_imgs``: the frame with background pixels replaced by ``bc``."""
    frame, regions, bc = _check(frame, regions, bc)
    out = frame.copy()
    bgm = regions == BACKGROUND
    out[bgm] = bc[bgm]
    return out


def head_image(frame: np.ndarray, regions: np.ndarray, bc: np.ndarray) -> np.ndarray:
    """AD-NeRF ``head_imgs/<i>.jpg``: the composed image with everything but the head replaced by ``bc``."""
    frame, regions, bc = _check(frame, regions, bc)
    out = frame.copy()
    other = regions != HEAD
    out[other] = bc[other]
    return out


def torso_and_gt_images(frame: np.ndarray, regions: np.ndarray, bc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ER-NeRF's ``extract_torso_and_gt`` for one frame -> (``gt`` RGB, ``torso`` RGBA uint8).

    Torso: the gt image with the head replaced by ``bc``; the torso top is painted 9 px upward into the
    head (colour x 0.98^k) and the neck top (vertically dilated, pushed down up to 4 px) 53 px upward,
    then blurred 5x5 where painted; alpha is 255 on neck, torso and painted pixels, elsewhere RGB=0, alpha=0.
    """
    import cv2
    from scipy.ndimage import binary_dilation

    frame, regions, bc = _check(frame, regions, bc)
    gt = gt_image(frame, regions, bc)
    head = regions == HEAD
    neck = regions == NECK
    torso = regions == TORSO
    img = gt.copy()
    img[head] = bc[head]

    painted_torso = _paint_up(img, gt, torso, head, length=9, push_down=0)
    neck_d = binary_dilation(neck, structure=np.ones((3, 1), bool), iterations=3)
    painted_neck = _paint_up(img, gt, neck_d, head, length=53, push_down=4, limit=neck_d)
    if painted_neck.any():
        blurred = cv2.GaussianBlur(img, (5, 5), 0)
        img[painted_neck] = blurred[painted_neck]

    alpha = neck | torso | painted_torso | painted_neck
    rgba = np.zeros((*img.shape[:2], 4), np.uint8)
    rgba[..., :3] = np.where(alpha[..., None], img, 0)
    rgba[..., 3] = np.where(alpha, 255, 0)
    return gt, rgba


def _paint_up(img, src, part, head, length: int, push_down: int, limit=None) -> np.ndarray:
    """For every column: the top pixel of ``part`` whose upper neighbour is head, pushed down by up to
    ``push_down`` px (staying inside ``limit``), painted ``length`` px upward with colour x 0.98^k."""
    h, w = part.shape
    painted = np.zeros((h, w), bool)
    has = part.any(axis=0)
    top = np.argmax(part, axis=0)
    cols = np.flatnonzero(has & (top > 0))
    if cols.size == 0:
        return painted
    rows = top[cols]
    keep = head[rows - 1, cols]
    cols, rows = cols[keep], rows[keep]
    if push_down:
        for _ in range(push_down):
            nxt = np.minimum(rows + 1, h - 1)
            ok = (limit[nxt, cols] if limit is not None else True) & (nxt > rows)
            rows = np.where(ok, nxt, rows)
    colours = src[rows, cols].astype(np.float32)
    for k in range(length):
        y = rows - k
        ok = y >= 0  # never wrap to the bottom of the image
        img[y[ok], cols[ok]] = np.clip(colours[ok] * (0.98**k), 0, 255).astype(np.uint8)
        painted[y[ok], cols[ok]] = True
    return painted


def _check(frame, regions, bc):
    frame, regions, bc = np.asarray(frame), np.asarray(regions), np.asarray(bc)
    if frame.shape != bc.shape or regions.shape != frame.shape[:2]:
        raise BadInput(f"frame {frame.shape}, regions {regions.shape} and background {bc.shape} differ in size")
    return frame, regions, bc
