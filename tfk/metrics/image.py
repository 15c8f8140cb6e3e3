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
    """Per-image PSNR of two batches [N,H,W,C] (or single images) -> float64 [N] (scikit-image's, capped)."""
    from skimage.metrics import peak_signal_noise_ratio

    a, b = _as_batch(a), _as_batch(b)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape}")
    with np.errstate(divide="ignore"):
        out = np.array([peak_signal_noise_ratio(x, y, data_range=DATA_RANGE) for x, y in zip(a, b, strict=True)])
    return np.minimum(out.astype(np.float64), cap)


def ssim_batch(a, b) -> np.ndarray:
    """Per-image SSIM (channel-averaged) of two batches [N,H,W,C] of uint8-range images -> float64 [N].

    scikit-image's ``structural_similarity`` with the conventions above. Images smaller than 11x11 raise
    ``ValueError``.
    """
    from skimage.metrics import structural_similarity

    a, b = _as_batch(a), _as_batch(b)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape}")
    if min(a.shape[1:3]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11, got {a.shape[1]}x{a.shape[2]}")
    kw = dict(gaussian_weights=True, sigma=SSIM_SIGMA, use_sample_covariance=False, data_range=DATA_RANGE)
    return np.array(
        [
            structural_similarity(x.astype(np.float64), y.astype(np.float64), channel_axis=-1, **kw)
            for x, y in zip(a, b, strict=True)
        ],
        dtype=np.float64,
    )


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two uint8-range images (HxW or HxWxC), see the module docstring."""
    return float(ssim_batch(a, b)[0])


def mean_finite(values) -> float:
    """Mean of a sequence of floats (nan when empty)."""
    vals = [float(v) for v in values]
    return float(np.mean(vals)) if vals else math.nan
