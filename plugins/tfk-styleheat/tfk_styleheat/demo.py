"""``tfk demo styleheat``: every stage on built-in media, offline, on CPU, in a few minutes.

Published weights cannot be bundled, so the demo writes *tiny random* networks in the published file layouts
(:mod:`tfk_styleheat.tiny`), including two named stand-ins: a random Deep3DFaceRecon regressor and the synthetic
BFM's reference landmarks (the real model needs ``shared/deep3d_epoch20`` and the Deep3D helper files; the BFM
itself is licence-gated). It then preprocesses a short talking clip into both lmdb layouts, trains the warper
and the full stage for a few ``tiny`` iterations, renders cross-identity and audio-driven videos with the
trained calibrator and evaluates a same-identity reconstruction. The output shows that every stage runs end to
end, not the quality of the published model. Everything lives under the output folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

__all__ = ["run_demo", "tfk_demo"]


def _preview(video: Path, out: Path) -> Path:
    import cv2
    import numpy as np

    from tfk.media import iter_frames

    frames = [f for i, f in enumerate(iter_frames(video, stop=40)) if i % 10 == 0]
    grid = np.concatenate(frames, 1)
    tmp = out.with_name(f".{out.name}.tmp.png")
    cv2.imwrite(str(tmp), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    tmp.replace(out)
    return out


def run_demo(out_dir: Path, video: Path | None = None, audio: Path | None = None, seconds: float = 1.0) -> dict:
    from tfk.testing.synth import make_talking_clip
    from tfk_styleheat import artifacts as arts
    from tfk_styleheat.evaluate import evaluate
    from tfk_styleheat.infer import infer, load_engine
    from tfk_styleheat.inputs import SemanticsExtractor
    from tfk_styleheat.preprocess import preprocess
    from tfk_styleheat.tiny import TableRequire, write_tiny_weights
    from tfk_styleheat.train.trainer import latest_checkpoint, train

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = write_tiny_weights(out_dir / "weights")

    require = TableRequire(weights)

    clips = out_dir / "clips"
    clips.mkdir(exist_ok=True)
    clip = Path(video) if video is not None else make_talking_clip(clips / "demo#a#u#001.mp4", seconds, 192)
    if video is not None:
        shutil.copy(video, clips / "demo#a#u#001.mp4")
    ex = SemanticsExtractor(require)
    lmdb = preprocess(clips, out_dir / "lmdb", require=require, extractor=ex, test_fraction=0.0, frame_limit=25)
    runs = out_dir / "runs"
    train(out_dir / "lmdb", runs / "warper", "warper", "tiny", require=require, tensorboard=False)
    train(
        out_dir / "lmdb",
        runs / "full",
        "full",
        "tiny",
        require=require,
        tensorboard=False,
        warper=latest_checkpoint(runs / "warper"),
    )
    require.table[arts.VISUAL] = latest_checkpoint(runs / "full")  # the calibrator just trained
    eng = load_engine(require, audio=True)
    first = out_dir / "portrait.png"
    import cv2

    from tfk.media import iter_frames

    cv2.imwrite(str(first), cv2.cvtColor(next(iter(iter_frames(clip, stop=1))), cv2.COLOR_RGB2BGR))
    result = infer(
        image=first,
        video=clip,
        output=out_dir / "result.mp4",
        resolution=256,
        engine=eng,
        extractor=ex,
        require=require,
        frame_limit=25,
    )
    talk = infer(
        image=first,
        audio=Path(audio) if audio else clip,
        output=out_dir / "result_audio.mp4",
        resolution=256,
        engine=eng,
        extractor=ex,
        require=require,
        frame_limit=25,
    )
    metrics = evaluate(
        clip,
        out_dir / "evaluate",
        resolution=256,
        frame_limit=25,
        metrics="psnr,ssim,cpbd",
        require=require,
        engine=eng,
        extractor=ex,
    )
    summary = {
        "result": str(result),
        "result_audio": str(talk),
        "preview": str(_preview(result, out_dir / "result.png")),
        "lmdb": {k: str(v) for k, v in lmdb.items()},
        "metrics": {k: metrics["metrics"].get(k) for k in ("psnr", "ssim", "cpbd")},
        "stand_ins": [
            "tiny random StyleHEAT/e4e/HFGI/SadTalker networks (published key layouts)",
            "random Deep3DFaceRecon regressor (real: tfk weights import shared/deep3d_epoch20)",
            "synthetic-BFM reference landmarks (real: shared/deep3d_similarity_lm3d)",
        ],
    }
    (out_dir / "demo.json").write_text(json.dumps(summary, indent=2))
    return summary


def tfk_demo(ctx, options: dict[str, Any]) -> dict:
    """The ``tfk_demo`` hook body (``options``: ``out``, optional ``video`` / ``audio``)."""
    out = options.get("out") or Path.cwd() / "tfk-demo" / "styleheat"
    return run_demo(Path(out), options.get("video"), options.get("audio"))
