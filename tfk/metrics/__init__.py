"""Evaluation metrics for talking-face videos (extra ``metrics``).

Light package: submodules import torch/cv2 lazily. Entry points: :func:`tfk.metrics.video.evaluate_videos`,
:func:`tfk.metrics.video.write_metrics`, :func:`tfk.metrics.video.metrics_table`; per-metric functions live in
``image`` (PSNR, SSIM), ``lpips``, ``fid``, ``landmarks`` (LMD), ``sync`` (LSE-C/D), ``cpbd``, ``pose``.
Declared weights: :mod:`tfk.metrics.artifacts`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ALL_METRICS", "DEFAULT_METRICS", "evaluate_videos", "metrics_table", "write_metrics"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tfk.metrics import video

        return getattr(video, name)
    raise AttributeError(name)
