"""``tfk evaluate lawdnet``: reconstruct a held-out clip from its own audio and score it.

The clip is its own template: every frame's lower face is masked and regenerated from the clip's audio
(reference frames drawn from the clip, seeded), exactly like inference. The result is compared with the
clip through :func:`tfk.metrics.evaluate_videos`: PSNR, SSIM, LPIPS, LMD (+ CPBD) and, with ``sync``,
LSE-C / LSE-D from SyncNet on the generated video and the clip's audio. Metrics whose weights are not in
the store are reported under ``skipped`` with the command that fetches them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["evaluate", "evaluate_stage"]


def evaluate(
    video: str | os.PathLike[str],
    checkpoint: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    batch_size: int = 20,
    audio_frontend: str | None = None,
    mouth: int | None = None,
    grid_size: int | None = None,
    sync: bool = True,
    output: str | os.PathLike[str] | None = None,
    metrics: list[str] | None = None,
    require: Callable[[str], Path] | None = None,
    progress=None,
    cache_root: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Reconstruct ``video`` from its own audio track; return the metrics dict (plus run facts)."""
    from tfk.media import load_audio, preflight
    from tfk.metrics.video import evaluate_videos
    from tfk_lawdnet.features import frames_for_audio
    from tfk_lawdnet.infer import load_dubber

    video = Path(video)
    preflight(video, video=True, audio=True)
    dubber = load_dubber(
        checkpoint, device, audio_frontend, batch_size, mouth=mouth, grid_size=grid_size, require=require
    )
    tpl = dubber.prepare(video, progress=progress, cache_root=cache_root)
    wav = load_audio(video, sr=16000)
    n = min(frames_for_audio(wav.size), tpl.n_frames)  # never loop: compare frame i with frame i
    tmpdir = None
    if output is None:
        tmpdir = tempfile.TemporaryDirectory(prefix="tfk-lawdnet-eval-")
        output = Path(tmpdir.name) / "reconstruction.mp4"
    try:
        gen = dubber.dub(tpl, wav, output, progress=progress, n_frames=n)
        names = metrics
        if names is None and sync:
            names = ["psnr", "ssim", "lpips", "lmd", "lse"]
        result = evaluate_videos(gen, tpl.video, metrics=names, audio=video, device=dubber.device, progress=progress)
    finally:
        if tmpdir is not None:
            tmpdir.cleanup()
    flat: dict[str, Any] = dict(result.get("metrics") or {})
    for key in ("skipped", "errors", "notes", "frames_dropped", "size"):
        if result.get(key):
            flat[key] = result[key]
    result = flat
    result.update(
        frames_generated=n,
        checkpoint=dubber.meta.get("artifact") or dubber.meta.get("checkpoint"),
        audio_frontend=dubber.frontend,
        mouth=dubber.mouth,
    )
    if tmpdir is None:
        result["reconstruction"] = str(output)
    return result


def evaluate_stage(ctx, options: dict[str, Any]) -> dict[str, Any]:
    """The ``tfk_evaluate`` hook body; the reconstruction is kept in the run directory."""
    out = ctx.run.dir / "reconstruction.mp4" if ctx.run is not None else None
    return evaluate(
        options["video"],
        checkpoint=options["checkpoint"],
        device=ctx.device,
        batch_size=options["batch_size"],
        audio_frontend=options["audio_frontend"],
        mouth=options["mouth_size"],
        grid_size=options["grid_size"],
        sync=options["sync"],
        output=out,
        require=ctx.require,
        progress=ctx.progress,
    )
