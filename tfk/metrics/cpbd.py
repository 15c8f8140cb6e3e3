"""CPBD sharpness (Narvekar & Karam 2011), no-reference; higher = sharper, in [0, 1].

Reference definition: the ``cpbd`` 1.0.7 Python port of the authors' MATLAB code, reproduced value for
value (vectorised here):

1. grayscale float image (uint8 RGB is converted with ITU-R 601 luma, ``cv2.COLOR_RGB2GRAY``);
2. Canny edges (scikit-image ``canny``, σ=1, default thresholds) classify 64×64 blocks as edge blocks when
   more than 0.2 % of their pixels are edges (partial blocks at the right/bottom are ignored);
3. Sobel edges (Octave ``edge(...,'sobel')`` style, vertical edges only): squared horizontal derivative
   with the normalised Sobel kernel, zeroed at or below 2·sqrt(its mean), thinned (a pixel is kept if it
   is a strict local maximum horizontally or vertically);
4. edge widths (Marziliano): for Sobel edge pixels whose gradient angle (atan2 of ``np.gradient``,
   quantised to 45°) is 0 or ±180, the width is the extent of the monotone intensity run on both sides
   along the row (each side at most 101 px);
5. per edge block, w_JNB = 5 if the block contrast (max - min) ≤ 50 else 3; P_blur = 1 - exp(-|w/w_JNB|^3.6);
6. CPBD = fraction of all measured edges with round(100·P_blur) ≤ 63 (cumulative probability at 63 %).

An image with no measurable edge scores 0.0 (like the reference).
"""

from __future__ import annotations

import numpy as np

THRESHOLD = 0.002
BETA = 3.6
BLOCK = 64
MAX_MARGIN = 100


def _gray(image) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] == 3:
        import cv2

        a = cv2.cvtColor(np.ascontiguousarray(a.astype(np.uint8)), cv2.COLOR_RGB2GRAY)
    if a.ndim != 2:
        raise ValueError(f"CPBD expects a grayscale or RGB image, got shape {a.shape}")
    return a.astype(np.float64)


def _sobel_edges(image: np.ndarray) -> np.ndarray:
    """Octave-style vertical-edge Sobel (as ``cpbd.octave.sobel``): squared horizontal derivative with the
    normalised kernel [[1,2,1],[0,0,0],[-1,-2,-1]]ᵀ/8, zeroed at or below 2·sqrt(mean), then thinned."""
    from scipy import ndimage

    h1 = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]]) / 8.0
    strength2 = np.square(ndimage.convolve(image, h1.T))
    strength2[strength2 <= 2 * np.sqrt(np.mean(strength2))] = 0
    pad = np.pad(strength2, 1)
    horiz = (strength2 > pad[1:-1, :-2]) & (strength2 > pad[1:-1, 2:])
    vert = (strength2 > pad[:-2, 1:-1]) & (strength2 > pad[2:, 1:-1])
    return horiz | vert


def _runs_left(cond: np.ndarray) -> np.ndarray:
    """run[:, k] = number of consecutive True in cond[:, k], cond[:, k-1], ... (row-wise)."""
    idx = np.arange(cond.shape[1])
    last_false = np.maximum.accumulate(np.where(cond, -1, idx), axis=1)
    return idx - last_false


def _runs_right(cond: np.ndarray) -> np.ndarray:
    """run[:, k] = number of consecutive True in cond[:, k], cond[:, k+1], ... (row-wise)."""
    return _runs_left(cond[:, ::-1])[:, ::-1]


def edge_widths(edges: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Marziliano edge widths (0 where no width is measured), as in ``cpbd.compute.marziliano_method``."""
    h, w = image.shape
    widths = np.zeros((h, w), dtype=np.float64)
    gy, gx = np.gradient(image)
    with np.errstate(divide="ignore", invalid="ignore"):
        ang = np.where(gx != 0, np.degrees(np.arctan2(gy, gx)), np.where(gy == np.pi / 2, 90.0, 0.0))
    if not np.any(ang) or w < 3 or h < 3:
        return widths
    q = 45 * np.round(ang / 45)
    # step conditions between neighbours along the row: left[k] compares image[k-1] with image[k],
    # right[k] compares image[k+1] with image[k]
    d_left = np.zeros_like(image)
    d_left[:, 1:] = image[:, :-1] - image[:, 1:]
    d_right = np.zeros_like(image)
    d_right[:, :-1] = image[:, 1:] - image[:, :-1]
    valid_l = np.ones((h, w), dtype=bool)
    valid_l[:, 0] = False
    valid_r = np.ones((h, w), dtype=bool)
    valid_r[:, -1] = False
    # angle 0: intensity rising left to right; angle ±180: falling
    up_l, up_r = _runs_left(valid_l & (d_left < 0)), _runs_right(valid_r & (d_right > 0))
    dn_l, dn_r = _runs_left(valid_l & (d_left > 0)), _runs_right(valid_r & (d_right < 0))
    inner = np.zeros((h, w), dtype=bool)
    inner[1:-1, 1:-1] = True
    sel = edges.astype(bool) & inner
    rows, cols = np.nonzero(sel)
    qa = q[rows, cols]
    for mask, run_l, run_r in ((qa == 0, up_l, up_r), (np.abs(qa) == 180, dn_l, dn_r)):
        r, c = rows[mask], cols[mask]
        wl = np.minimum(run_l[r, c - 1], MAX_MARGIN) + 1
        wr = np.minimum(run_r[r, c + 1], MAX_MARGIN) + 1
        widths[r, c] = wl + wr
    return widths


def cpbd(image) -> float:
    """CPBD sharpness of one image (HxW gray or HxWx3 RGB, uint8 range)."""
    from skimage.feature import canny

    img = _gray(image)
    canny_edges = canny(img)
    widths = edge_widths(_sobel_edges(img), img)
    hist = np.zeros(101)
    total = 0
    h, w = img.shape
    for i in range(h // BLOCK):
        for j in range(w // BLOCK):
            rs, cs = slice(BLOCK * i, BLOCK * (i + 1)), slice(BLOCK * j, BLOCK * (j + 1))
            if np.count_nonzero(canny_edges[rs, cs]) <= BLOCK * BLOCK * THRESHOLD:
                continue
            bw = widths[rs, cs]
            bw = bw[bw != 0]
            block = img[rs, cs]
            jnb = 5.0 if int(block.max() - block.min()) <= 50 else 3.0
            p = 1 - np.exp(-(np.abs(bw / jnb) ** BETA))
            np.add.at(hist, np.round(p * 100).astype(int), 1)
            total += len(bw)
    if total == 0:
        return 0.0
    return float(hist[:64].sum() / total)
