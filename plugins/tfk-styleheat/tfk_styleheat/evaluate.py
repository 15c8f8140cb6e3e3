"""``tfk evaluate styleheat --video CLIP``: same-identity reconstruction metrics through ``tfk.metrics``.

The clip is reenacted from its own first frame and its own motion (same-identity mode); the reference is the
clip cropped with the same frame-0 FFHQ quad at the output resolution. ``tfk.metrics.video.evaluate_videos``
then computes PSNR, SSIM, LPIPS, FID, LMD, CPBD and LSE-C/D (metrics whose weights are missing are reported as
unavailable unless asked for explicitly).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["evaluate", "evaluate_stage", "write_reference"]


def write_reference(video: Path, out: Path, resolution: int, ex, frame_limit: int | None, align: bool = True) -> Path:
    """The clip cropped with its frame-0 quad (what the reconstruction should match), with its audio."""
    import cv2

    from tfk.errors import MissingStream
    from tfk.face.align import align_ffhq
    from tfk.media import VideoWriter, iter_frames, load_audio, probe

    fps = float(probe(video).fps or 25.0)
    try:
        audio = load_audio(video, sr=16000)
    except MissingStream:
        audio = None
    lm0 = None
    with VideoWriter(out, fps=fps, audio=audio, audio_rate=16000) as w:
        for frame in iter_frames(video, stop=frame_limit):
            if lm0 is None:
                lm0 = ex.landmarks(frame)
            if align:
                crop = align_ffhq(frame, lm0, size=resolution)[0]
            else:
                crop = cv2.resize(frame, (resolution, resolution), interpolation=cv2.INTER_AREA)
            w.write(crop)
    return out


def evaluate(
    video: Path,
    out_dir: Path,
    resolution: int = 512,
    batch_size: int = 10,
    frame_limit: int | None = None,
    metrics: str | None = None,
    device: str = "cpu",
    require: Callable[[str], Path] | None = None,
    cache_dir: Path | None = None,
    progress=None,
    engine=None,
    extractor=None,
) -> dict[str, Any]:
    from tfk.metrics.video import evaluate_videos, write_metrics
    from tfk_styleheat.infer import infer
    from tfk_styleheat.inputs import SemanticsExtractor

    if require is None:
        from tfk.weights import require as _require

        require = _require
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ex = extractor or SemanticsExtractor(require, device)
    gen = infer(
        video=Path(video),
        output=out_dir / "reconstruction.mp4",
        resolution=resolution,
        batch_size=batch_size,
        frame_limit=frame_limit,
        device=device,
        require=require,
        cache_dir=cache_dir,
        progress=progress,
        engine=engine,
        extractor=ex,
    )
    ref = write_reference(Path(video), out_dir / "reference.mp4", resolution, ex, frame_limit)
    names = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    result = evaluate_videos(gen, ref, names, audio=Path(video), device=device, progress=progress)
    result["generated"], result["reference"] = str(gen), str(ref)
    write_metrics(result, out_dir / "metrics.json")
    return result


def evaluate_stage(ctx, options: dict[str, Any]) -> dict[str, Any]:
    from tfk_styleheat.infer import cache_root

    out = ctx.run.dir if ctx.run is not None else Path.cwd() / "styleheat_eval"
    return evaluate(
        options["video"],
        out,
        options["resolution"],
        options["batch_size"],
        options["frame_limit"],
        options["metrics"],
        ctx.device,
        ctx.require,
        cache_root(ctx.home),
        ctx.progress,
    )
