"""The MATLAB blend step (``alpha_blend_newsold.m`` / ``alpha_blend_vbg.m``) in numpy.

``[~, L] = bwboundaries(alpha)`` labels objects first and holes after them, and ``alpha(L >= 2) = 255`` makes
every hole (open mouth, eyes) opaque; then ``out = uint8(bg .* (1 - a/255) + render .* a/255)``. MATLAB's
``uint8()`` rounds halves away from zero, so the result is ``floor(x + 0.5)`` (not numpy's half-to-even).
Holes are the background regions not 4-connected to the image border (bwboundaries' default hole
connectivity), i.e. ``scipy.ndimage.binary_fill_holes`` with its default cross structure.
"""

from __future__ import annotations

import numpy as np


def fill_alpha(alpha: np.ndarray) -> np.ndarray:
    """``alpha`` (H, W) uint8 with every enclosed hole set to 255."""
    from scipy.ndimage import binary_fill_holes

    a = np.asarray(alpha)
    filled = binary_fill_holes(a > 0)
    return np.where(filled & (a == 0), 255, a).astype(np.uint8)


def alpha_blend(background: np.ndarray, rgba: np.ndarray) -> np.ndarray:
    """Render ``rgba`` (H, W, 4) uint8 over ``background`` (H, W, 3) uint8, holes filled -> (H, W, 3) uint8."""
    bg = np.asarray(background, dtype=np.float64)
    rgba = np.asarray(rgba)
    if rgba.shape[:2] != bg.shape[:2] or rgba.shape[2] != 4:
        raise ValueError(f"render {rgba.shape} does not match background {bg.shape}")
    a = fill_alpha(rgba[..., 3]).astype(np.float64)[..., None] / 255.0
    out = bg * (1.0 - a) + rgba[..., :3].astype(np.float64) * a
    return np.floor(np.clip(out, 0, 255) + 0.5).astype(np.uint8)
