"""``tfk evaluate phadtf --uid NAME``: re-generate the held-out part of the target clip and score it.

The original fine-tunes on frames 0-299 and tests on 300-399; here the held-out frames are ``n_train..n-1``
(recorded by preprocess). The generated video (driven by the held-out audio, ``--pose generated``) is compared
with the real held-out frames: SSIM, PSNR, LMD, CPBD (and LSE-C/D when SyncNet weights are in the store) through
:func:`tfk.metrics.video.evaluate_videos`, and the head pose with ``hs_provisional`` (PHADTF's HS formula is
unpublished: per-axis histogram intersection of Euler-angle distributions, labelled provisional) for the pose that
was rendered (matched real frames) and for the audio network's raw pose.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tfk.errors import BadInput, UsageError

FPS = 25


def _reference(sub, lo: int, hi: int, wav: np.ndarray, path: Path) -> Path:
    from tfk.media import VideoWriter

    with VideoWriter(path, fps=FPS, audio=wav) as vw:
        for k in range(lo, hi):
            vw.write(sub.image("frames", f"frames/{k}.png"))
    return path


def evaluate(sub, nets, face_model, out_dir: Path, device: str = "cpu", sync: bool = True, progress=None) -> dict:
    from tfk.media import load_audio
    from tfk.metrics.pose import pose_similarity, pose_stats
    from tfk.metrics.video import evaluate_videos, write_metrics
    from tfk_phadtf.infer import generate, predict_coeffs

    lo, hi = sub.n_train, sub.n_frames
    if hi - lo < 3:
        raise BadInput(f"only {hi - lo} held-out frames (frames {lo}..{hi - 1}); evaluation needs at least 3")
    out_dir.mkdir(parents=True, exist_ok=True)
    audio = load_audio(sub.step("frames") / "audio.wav", sr=16000)
    wav = audio[int(lo * 16000 / FPS) : int(hi * 16000 / FPS)]
    ref = _reference(sub, lo, hi, wav, out_dir / "reference.mp4")
    gen_path = out_dir / "generated.mp4"
    res = generate(sub, nets, face_model, wav, gen_path, None, "generated", True, device, progress)
    metrics = None
    if sync:
        from tfk.weights import find

        if find("shared/syncnet_v2") is not None:
            metrics = ["psnr", "ssim", "lpips", "lmd", "cpbd", "lse"]
    result: dict[str, Any] = evaluate_videos(gen_path, ref, metrics=metrics, device=device, progress=progress)
    real = np.degrees(sub.coeffs[lo:hi, 224:227])
    rendered = np.degrees(sub.coeffs[np.asarray(res["matched_frames"]), 224:227])
    raw = np.degrees(predict_coeffs(nets.atcnet, wav, device)[:, 64:67])
    result["hs_provisional"] = pose_similarity(rendered, real)
    result["hs_provisional_audio_pose"] = pose_similarity(raw, real)
    result["pose_generated"] = pose_stats(rendered)
    result["pose_reference"] = pose_stats(real)
    result["held_out_frames"] = [lo, hi - 1]
    result["notes"] = [
        *result.get("notes", []),
        "hs_provisional: PHADTF's HS formula is unpublished; this is a labelled stand-in (tfk.metrics.pose).",
    ]
    write_metrics(result, out_dir / "metrics.json")
    return result


def evaluate_stage(ctx, options: dict[str, Any]) -> dict:
    from tfk_phadtf import artifacts as arts
    from tfk_phadtf import resources
    from tfk_phadtf.infer import _latest, load_nets
    from tfk_phadtf.subject import Subject

    if ctx.workspace is None:
        raise UsageError("evaluate phadtf needs --uid")
    sub = Subject.from_workspace(ctx.workspace)
    trained = ctx.workspace.path("train")
    nets = load_nets(
        resources.resolve(
            options.get("atcnet") or _latest(trained / "audio", "atcnet_lstm_*.pth"), arts.ATCNET, ctx.require
        ),
        resources.resolve(options.get("net_g") or _latest(trained / "gan", "*_net_G.pth"), arts.NET_G, ctx.require),
        resources.resolve(
            options.get("net_mem") or _latest(trained / "gan", "*_net_mem.pth"), arts.NET_MEM, ctx.require
        ),
        ctx.device,
    )
    out = ctx.run.dir if ctx.run is not None else ctx.workspace.path("evaluate")
    fm = resources.face_model(options.get("face_model"), ctx.device)
    result = evaluate(sub, nets, fm, Path(out), ctx.device, bool(options["sync"]), ctx.progress)
    return json.loads(json.dumps(result, default=str))
