"""DFRF's per-frame background images ``torso_imgs/<i>.jpg`` (3-channel: torso + background, no head).

From the composed image (``com_imgs``: background replaced by ``bc``): an 11x11-dilated head is replaced by
``bc``, neck and torso pixels are restored, a 4x4-dilated head is replaced by ``bc`` again; then, for each
column of the neck's x-range, the colour of the column's top neck pixel is copied 50 px upward. The range is
shrunk by one column from the nearer end for every column whose pixel 5 rows above the neck top is torso or
background in the parsing image (channel 2 = 255 in its BGR-ordered colours).
"""

from __future__ import annotations

import numpy as np

from tfk.errors import BadInput
from tfk.face.parsing.masks import BACKGROUND, HEAD, NECK, TORSO


def dfrf_torso_image(com: np.ndarray, regions: np.ndarray, bc: np.ndarray) -> np.ndarray:
    """``torso_imgs/<i>.jpg`` of DFRF from the composed frame, its four-region map and the background plate."""
    import cv2

    com, regions, bc = np.asarray(com), np.asarray(regions), np.asarray(bc)
    if com.shape != bc.shape or regions.shape != com.shape[:2]:
        raise BadInput(f"image {com.shape}, regions {regions.shape} and background {bc.shape} differ in size")
    head = (regions == HEAD).astype(np.uint8)
    img = com.copy()
    d11 = cv2.dilate(head, np.ones((11, 11), np.uint8)).astype(bool)
    img[d11] = bc[d11]
    keep = (regions == NECK) | (regions == TORSO)
    img[keep] = com[keep]
    d4 = cv2.dilate(head, np.ones((4, 4), np.uint8)).astype(bool)
    img[d4] = bc[d4]
    neck = regions == NECK
    if not neck.any():
        return img
    ys, xs = np.nonzero(neck)
    top = int(ys.min())
    lo, hi = int(xs.min()), int(xs.max())
    probe = max(top - 5, 0)
    for x in range(lo, hi + 1):  # torso/background (BGR channel 2 == 255) 5 rows above: shrink from the nearer end
        if regions[probe, x] in (TORSO, BACKGROUND):
            if x - lo <= hi - x:
                lo += 1
            else:
                hi -= 1
    for x in range(lo, hi + 1):
        col = np.flatnonzero(neck[:, x])
        if col.size == 0:
            continue
        y = int(col[0])
        img[max(y - 50, 0) : y, x] = img[y, x]
    return img
