"""Score a trained subject on its val split (the original ``--test``): PSNR, SSIM, LPIPS, LMD, LSE-C/D.

Frames are rendered one at a time at test settings (frame code 0, the frame's own audio and blink) over
the same background as training, and compared with ``gt_imgs``: PSNR ``-10 log10(MSE)`` on [0, 1] images
(exact, before any encoding), SSIM (tfk.metrics.image), LPIPS-alex (when its weights are in the store),
LMD (mouth landmarks of the two videos, tfk.face) and LSE-C/D (when the SyncNet weights are in the store).
A metric whose weights or toolbox are missing is listed under ``skipped`` with the reason, never faked.
The render and ground-truth videos and ``metrics.json`` go to ``out_dir``.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tfk.errors import InputNotFound, MissingWeights, TfkError
from tfk_ernerf.data import Subject, find_subject_dir
from tfk_ernerf.infer import find_model
from tfk_ernerf.models.checkpoint import checkpoint_frontend, load_model
from tfk_ernerf.render.renderer import render_frame, test_conditioning

log = logging.getLogger("tfk.ernerf.evaluate")


def _u8(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


def _val_audio(subject: Subject, n: int) -> np.ndarray | None:
    """The val frames' slice of ``aud.wav`` (16 kHz), when the subject has it and the frames are contiguous."""
    wav = subject.data_dir / "aud.wav"
    if not wav.is_file():
        return None
    from tfk import audio as taudio

    a = taudio.load(wav)
    start = subject.frames[0].img_id
    return a[start * 640 : (start + n) * 640]


def evaluate(
    ws_root: str | os.PathLike[str],
    uid: str,
    out_dir: str | os.PathLike[str],
    device: str = "cpu",
    max_frames: int | None = None,
    torso: bool = True,
    sync: bool = True,
    progress: Any = None,
) -> dict[str, Any]:
    """Render the val split of ``uid`` and score it; returns the ``metrics.json`` dict."""
    from tfk.media import VideoWriter
    from tfk.metrics.image import ssim_batch
    from tfk.metrics.video import write_metrics

    ws_root, out_dir = Path(ws_root), Path(out_dir)
    ckpt = find_model(ws_root, uid, torso)
    data_dir = find_subject_dir(ws_root)
    if data_dir is None or not (data_dir / "transforms_val.json").is_file():
        raise InputNotFound(f"no val split for --uid {uid}", hint=f"tfk preprocess ernerf VIDEO --uid {uid}")
    model, ck = load_model(ckpt, device)
    model.eval()
    model.testing = True
    frontend = checkpoint_frontend(ck)
    val = Subject.load(data_dir, "val", frontend)
    frames = val.frames[:max_frames] if max_frames else val.frames
    skipped: dict[str, str] = {}
    lp = None
    try:
        from tfk.metrics.lpips import load_lpips

        lp = load_lpips("alex", device=device, download=False)
    except (MissingWeights, ImportError) as exc:
        skipped["lpips"] = f"LPIPS-alex weights not in the store ({exc}); tfk weights pull metrics"
    out_dir.mkdir(parents=True, exist_ok=True)
    pred_path, gt_path = out_dir / "render.mp4", out_dir / "ground_truth.mp4"
    audio = _val_audio(val, len(frames))
    psnr, ssim, lpips_v = [], [], []
    dev = model.aabb_infer.device
    with VideoWriter(pred_path, fps=25, audio=audio) as pw, VideoWriter(gt_path, fps=25, audio=audio) as gw:
        for fr in frames:
            with torch.no_grad():
                cond = test_conditioning(model, val.audio(fr, model.cfg.att), val.eye_of(fr))
                bg = val.bc if model.cfg.torso else val.bg_torso(fr)
                img = render_frame(model, fr.pose.to(dev), val.intrinsics, val.h, val.w, cond, bg.to(dev))["image"]
            pred = img.cpu().numpy()
            gt = val.gt(fr).reshape(val.h, val.w, 3).numpy()
            mse = float(((pred - gt) ** 2).mean())
            psnr.append(-10 * math.log10(max(mse, 1e-10)))
            pu, gu = _u8(pred), _u8(gt)
            ssim.append(float(ssim_batch(pu[None], gu[None])[0]))
            if lp is not None:
                from tfk.metrics.lpips import lpips_batch

                lpips_v.append(lpips_batch(lp, pu[None], gu[None], device)[0])
            pw.write(pu)
            gw.write(gu)
    metrics: dict[str, Any] = {"psnr": float(np.mean(psnr)), "ssim": float(np.mean(ssim))}
    if lpips_v:
        metrics["lpips"] = float(np.mean(lpips_v))
    errors: dict[str, str] = {}
    try:
        from tfk.metrics.landmarks import video_lmd

        metrics.update(video_lmd(pred_path, gt_path))
    except ImportError as exc:
        skipped["lmd"] = f"the face toolbox is not installed ({exc})"
    except TfkError as exc:
        errors["lmd"] = exc.message
    if not sync:
        skipped["lse"] = "disabled (--no-sync)"
    elif audio is None:
        skipped["lse"] = "the subject has no aud.wav"
    else:
        try:
            from tfk.media import iter_frames
            from tfk.metrics.sync import lse

            r = lse(iter_frames(pred_path), audio, device=device, download=False)
            metrics.update({"lse_c": r.lse_c, "lse_d": r.lse_d})
        except MissingWeights as exc:
            skipped["lse"] = f"SyncNet weights not in the store ({exc.message})"
        except TfkError as exc:
            errors["lse"] = exc.message
    result = {
        "model": "ernerf",
        "uid": uid,
        "checkpoint": str(ckpt),
        "frames": len(frames),
        "generated": str(pred_path),
        "reference": str(gt_path),
        "metrics": metrics,
        "skipped": skipped,
        "errors": errors,
    }
    write_metrics(result, out_dir / "metrics.json")
    return result
