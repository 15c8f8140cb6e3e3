"""``tfk evaluate dfrf``: render the val split from its own audio and poses, score it against ``com_imgs``.

PSNR, SSIM, LPIPS and LMD come from :func:`tfk.metrics.evaluate_videos` (metrics whose weights are missing are
reported under ``skipped``). Both videos are written at CRF 0 so encoding barely touches the scores. The
original repository has no metric script; its training log prints PSNR = -10 log10(MSE).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["evaluate"]


def evaluate(
    subject_dir: str | os.PathLike[str],
    checkpoint: str | os.PathLike[str],
    quality: str = "exact",
    references: str = "auto",
    seed: int = 0,
    noise: bool = True,
    chunk: int | None = None,
    device: str = "cpu",
    max_frames: int | None = None,
    metrics: list[str] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Metrics dict for the val split (``max_frames`` limits it to the first frames, for quick looks)."""
    from tfk.media import VideoWriter
    from tfk.metrics.video import evaluate_videos
    from tfk_dfrf.data import Subject
    from tfk_dfrf.infer import render_frames
    from tfk_dfrf.models.dfrf import load_dfrf

    subject = Subject(subject_dir)
    model, ck = load_dfrf(checkpoint, device)
    val = subject.val
    n = len(val.img_ids) if max_frames is None else min(max_frames, len(val.img_ids))
    feats = subject.aud[val.aud_ids[:n]]
    tmp = None
    if out_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="tfk-dfrf-eval-")
        out_dir = tmp.name
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gen, ref = out / "rendered.mp4", out / "ground_truth.mp4"
    frames = render_frames(subject, model, ck, feats, quality, references, seed, noise, chunk, "auto", device)
    mse = []
    try:
        with VideoWriter(gen, fps=25, crf=0) as vg, VideoWriter(ref, fps=25, crf=0) as vr:
            for i, frame in frames:
                gt = subject.image(val.img_ids[i])
                vg.write(frame)
                vr.write(gt)
                mse.append(float(np.mean((frame.astype(np.float64) - gt) ** 2)) / 255.0**2)
                if progress is not None and hasattr(progress, "advance"):
                    progress.advance(1)
        names = metrics or ["psnr", "ssim", "lpips", "lmd"]
        result = evaluate_videos(gen, ref, metrics=names, device=device)
    finally:
        if tmp is not None:
            tmp.cleanup()
    flat: dict[str, Any] = dict(result.get("metrics") or {})
    for key in ("skipped", "errors", "notes"):
        if result.get(key):
            flat[key] = result[key]
    flat["psnr_raw"] = float(np.mean([-10 * np.log10(max(m, 1e-10)) for m in mse]))
    flat.update(frames=n, checkpoint=str(checkpoint), global_step=int(ck["global_step"]), quality=quality)
    if tmp is None:
        flat["videos"] = {"rendered": str(gen), "ground_truth": str(ref)}
    return flat
