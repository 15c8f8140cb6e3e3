"""Masks of the LawDNet face crop: the soft source mask (``SmoothSqMask``) and the paste-back feather mask.

The source mask blanks the lower face that the generator must re-synthesise: a 103x80 canvas with ones
in rows [32, 96) and cols [8, 72), blurred with a 5x5 Gaussian (sigma 1, no padding, giving 99x76) and
bilinearly resized to the crop size. ``masked = (1 - mask) * crop``.

The paste mask is the region written back into the frame: 1 over every pixel the source mask touches
(mask > 0.01), feathered linearly to 0 before the crop border, so a pasted crop never shows a seam.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["apply_source_mask", "paste_mask", "source_mask"]

_CANVAS_H, _CANVAS_W = 103, 80
_ROWS, _COLS = (32, 96), (8, 72)


def _gaussian_kernel(size: int = 5, sigma: float = 1.0) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    g /= g.sum()
    return np.outer(g, g)


@functools.cache
def _source_mask_cached(h: int, w: int) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    canvas = np.zeros((_CANVAS_H, _CANVAS_W), np.float64)
    canvas[_ROWS[0] : _ROWS[1], _COLS[0] : _COLS[1]] = 1.0
    k = _gaussian_kernel()
    kh, kw = k.shape
    # "valid" correlation (no padding): 103x80 -> 99x76
    out = np.zeros((_CANVAS_H - kh + 1, _CANVAS_W - kw + 1), np.float64)
    for dy in range(kh):
        for dx in range(kw):
            out += k[dy, dx] * canvas[dy : dy + out.shape[0], dx : dx + out.shape[1]]
    t = torch.from_numpy(out.astype(np.float32))[None, None]
    resized = F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)
    arr = resized[0, 0].numpy().astype(np.float32)
    arr.setflags(write=False)
    return arr


def source_mask(h: int, w: int) -> np.ndarray:
    """The soft source mask (H, W) float32 in [0, 1] for a crop of ``h`` x ``w`` pixels (read-only)."""
    if h < 8 or w < 8:
        raise ValueError(f"crop too small for a source mask: {h}x{w}")
    return _source_mask_cached(int(h), int(w))


def apply_source_mask(batch):  # torch.Tensor (B,3,H,W) in [0,1] -> same
    """Blank the mouth region of a batch of crops in [0, 1]: ``(1 - mask) * batch``."""
    import torch

    h, w = batch.shape[-2:]
    m = torch.from_numpy(np.ascontiguousarray(source_mask(h, w))).to(batch.device, batch.dtype)
    return batch * (1.0 - m)


@functools.cache
def _paste_mask_cached(h: int, w: int, ramp_frac: float) -> np.ndarray:
    m = source_mask(h, w)
    rows = np.nonzero((m > 0.01).any(axis=1))[0]
    cols = np.nonzero((m > 0.01).any(axis=0))[0]
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    ramp = max(1.0, ramp_frac * w)

    def axis_profile(n: int, lo: int, hi: int) -> np.ndarray:
        idx = np.arange(n, dtype=np.float32)
        # the ramp fits between the core and the crop border, so the mask is 0 on the border itself
        room = float(min(lo, n - 1 - hi))
        r = max(1.0, min(ramp, room))
        outside = np.maximum(np.maximum(lo - idx, idx - hi), 0.0)
        return np.clip(1.0 - outside / r, 0.0, 1.0)

    arr = np.outer(axis_profile(h, r0, r1), axis_profile(w, c0, c1)).astype(np.float32)
    arr.setflags(write=False)
    return arr


def paste_mask(h: int, w: int, ramp_frac: float = 0.03) -> np.ndarray:
    """Feathered paste-back alpha (H, W) float32: 1 wherever the source mask exceeds 0.01, 0 at the border."""
    return _paste_mask_cached(int(h), int(w), float(ramp_frac))
