"""DFRF's per-frame background images ``torso_imgs/<i>.jpg`` (3-channel: torso + background, no head).

From the composed image (``com_imgs``: background replaced by ``bc``): an 11x11-dilated head is replaced by
``bc``, neck and torso pixels are restored, a 4x4-dilated head is replaced by ``bc`` again; then, for each
column of the neck's x-range, the colour of the column's top neck pixel (of the neck outside the 4x4-dilated head)
is copied 50 px upward. The range is shrunk by one column (from the left for columns left of the middle, else from
the right) for every column whose pixel 5 rows above its neck top is torso or background in the parsing image
(channel 2 = 255 in its BGR-ordered colours).
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
    neck = (regions == NECK) & ~d4  # the neck left after the dilated head
    if not neck.any():
        return img
    cols = np.flatnonzero(neck.any(axis=0))
    first, last = int(cols.min()), int(cols.max())
    top = np.argmax(neck, axis=0)  # per column: the top neck pixel (0 where the column has none)
    lo, hi = first, last
    for x in range(first, last + 1):  # torso/background 5 rows above (BGR channel 2 == 255): shrink
        if regions[max(int(top[x]) - 5, 0), x] in (TORSO, BACKGROUND):
            if x < (first + last) / 2:
                lo += 1
            else:
                hi -= 1
    for x in range(lo, hi + 1):
        y = int(top[x])
        img[max(y - 50, 0) : y, x] = img[y, x]
    return img
