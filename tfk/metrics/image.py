"""Full-reference image metrics: PSNR and SSIM on uint8 RGB frames.

Definitions (data range 255, i.e. uint8 intensities, never [0,1]):

* **PSNR** = 10·log10(255² / MSE), MSE over all pixels and channels of one frame. Video PSNR is the mean
  of the per-frame values. Identical frames have MSE 0 (PSNR +inf); to keep reports finite and JSON
  valid, each per-frame value is capped at :data:`PSNR_CAP` = 100 dB (an MSE below 6.5e-6 grey levels²).
* **SSIM** (Wang et al. 2004) with the scikit-image conventions used by talking-face evaluations:
  Gaussian window σ=1.5 truncated at 3.5σ (11×11), K1=0.01, K2=0.03, L=255, population covariances
  (``use_sample_covariance=False``), per channel, mean over the valid region (5-pixel border cropped) then
  over channels. Equals ``skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, channel_axis=-1, data_range=255)``.
"""

from __future__ import annotations

import math

import numpy as np

PSNR_CAP = 100.0
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
DATA_RANGE = 255.0


def _as_batch(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 2:
        x = x[None, :, :, None]
    elif x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"expected HxW, HxWxC or NxHxWxC images, got shape {x.shape}")
    return x


def psnr(a: np.ndarray, b: np.ndarray, cap: float = PSNR_CAP) -> float:
    """PSNR in dB of two uint8-range images (HxW or HxWxC), capped at ``cap``."""
    return float(psnr_batch(a, b, cap)[0])


def psnr_batch(a: np.ndarray, b: np.ndarray, cap: float = PSNR_CAP) -> np.ndarray:
    """Per-image PSNR of two batches [N,H,W,C] (or single images) -> float64 [N]."""
    a, b = _as_batch(a), _as_batch(b)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape}")
    diff = (a.astype(np.float32) - b.astype(np.float32)).reshape(len(a), -1)
    # exact: squared differences of uint8 values are integers < 2**24, summed in float64
    mse = np.einsum("ij,ij->i", diff, diff, dtype=np.float64) / diff.shape[1]
    with np.errstate(divide="ignore"):
        out = 10.0 * np.log10(DATA_RANGE**2 / mse)
    return np.minimum(out, cap)


def _gauss_kernel(sigma: float = SSIM_SIGMA, truncate: float = 3.5):
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def ssim_batch(a, b) -> np.ndarray:
    """Per-image SSIM (channel-averaged) of two batches [N,H,W,C] of uint8-range images -> float64 [N].

    Separable Gaussian filtering in float64 with OpenCV, keeping only the region where the window fits
    (what scikit-image averages after its crop): matches scikit-image to ~1e-12. Images smaller than
    11×11 raise ``ValueError`` like scikit-image does.
    """
    import cv2

    a, b = _as_batch(a), _as_batch(b)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape}")
    k = _gauss_kernel()
    r = len(k) // 2
    n, h, w, c = a.shape
    if h < len(k) or w < len(k):
        raise ValueError(f"SSIM needs images of at least {len(k)}x{len(k)}, got {h}x{w}")
    c1, c2 = (SSIM_K1 * DATA_RANGE) ** 2, (SSIM_K2 * DATA_RANGE) ** 2

    def filt(z: np.ndarray) -> np.ndarray:
        return cv2.sepFilter2D(z, cv2.CV_64F, k, k, borderType=cv2.BORDER_REFLECT)[r : h - r, r : w - r]

    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        vals = []
        for ch in range(c):
            x = a[i, :, :, ch].astype(np.float64)
            y = b[i, :, :, ch].astype(np.float64)
            ux, uy = filt(x), filt(y)
            vx = filt(x * x) - ux * ux
            vy = filt(y * y) - uy * uy
            vxy = filt(x * y) - ux * uy
            s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
            vals.append(s.mean())
        out[i] = float(np.mean(vals))
    return out


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two uint8-range images (HxW or HxWxC), see the module docstring."""
    return float(ssim_batch(a, b)[0])


def mean_finite(values) -> float:
    """Mean of a sequence of floats (nan when empty)."""
    vals = [float(v) for v in values]
    return float(np.mean(vals)) if vals else math.nan
