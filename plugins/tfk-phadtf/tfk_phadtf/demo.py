"""``tfk demo phadtf``: every PHADTF stage on built-in media, offline, on CPU, in a few minutes.

What is real and what is a stand-in (the demo says so when it runs):

- media: a talking clip made from the portrait that ships with scikit-image (tfk.testing.synth) and a synthetic
  voice; the clip is a few seconds, so the original's 16 s rule is relaxed (``min_seconds=0``);
- BFM: **a synthetic BFM-structured stand-in** (tfk.tdmm.synthetic), because the Basel Face Model is licence-
  gated; a real run needs ``tfk weights import shared/bfm2009 01_MorphableModel.mat`` (+ ``Exp_Pca.bin``);
- weights: **untrained tiny networks** in the published layouts (ATC_net, G, D, memory, ArcFace r18); a real run
  needs the PHADTF archive (``tfk weights pull phadtf`` prints the import commands);
- coefficients: the toolbox's landmark fit (``source = fit``), not the Deep3D regressor.

The output shows that every stage runs end to end, not the quality of the published model.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

STAND_IN_NOTE = (
    "stand-ins: synthetic BFM (the real Basel Face Model is licence-gated: tfk weights import shared/bfm2009 FILE), "
    "untrained tiny networks (real ones: tfk weights pull phadtf), a few-second clip (real runs need >= 16 s)"
)


def _ctx(out: Path, stage: str, device: str, progress):
    from tfk.plugin import StageContext
    from tfk.workspace import Workspace

    ws = Workspace.for_subject("phadtf", "demo", out / "workspace")
    return StageContext(model="phadtf", stage=stage, home=out, device=device, workspace=ws, progress=progress)


def preview(video: Path, path: Path, n: int = 4) -> Path:
    """A strip of ``n`` evenly spaced frames of ``video`` as PNG."""
    import cv2
    import numpy as np

    from tfk.fsutil import atomic_path
    from tfk.media import count_frames, iter_frames

    total = max(1, count_frames(video))
    want = {round(i * (total - 1) / max(1, n - 1)) for i in range(n)}
    frames = [f for k, f in enumerate(iter_frames(video)) if k in want]
    strip = np.concatenate(frames, 1)
    with atomic_path(path) as tmp:
        cv2.imwrite(str(tmp.with_suffix(".png")), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
        tmp.with_suffix(".png").replace(tmp)
    return path


def run_demo(
    out: Path,
    seconds: float = 4.0,
    device: str = "cpu",
    video: Path | None = None,
    audio: Path | None = None,
    progress=None,
) -> Path:
    from tfk.console import info
    from tfk.media import write_wav
    from tfk.tdmm.bfm import derive_bfm
    from tfk.tdmm.synthetic import make_synthetic_bfm
    from tfk.testing.synth import make_talking_clip, synthetic_speech
    from tfk_phadtf.infer import infer
    from tfk_phadtf.preprocess import preprocess
    from tfk_phadtf.train.init import write_tiny_weights
    from tfk_phadtf.train.runner import train_stage

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    info(f"demo: {STAND_IN_NOTE}")
    clip = Path(video) if video is not None else out / "target.mp4"
    if video is None and not clip.exists():
        make_talking_clip(clip, seconds=seconds, size=256, seed=0)
    speech = Path(audio) if audio is not None else out / "speech.wav"
    if audio is None and not speech.exists():
        write_wav(speech, synthetic_speech(max(1.0, seconds * 0.75), 16000, seed=7), 16000)
    bfm_dir = out / "bfm_stand_in"
    front = bfm_dir / "derived" / "BFM_model_front.mat"
    if not front.exists():
        files = make_synthetic_bfm(bfm_dir / "src", seed=0)
        derive_bfm(files["01_MorphableModel.mat"], bfm_dir / "derived", helpers=files)
    lm3d = bfm_dir / "src" / "similarity_Lm3D_all.mat"
    w = out / "weights_untrained"
    names = {
        "atcnet": "atcnet_lstm_general.pth",
        "net_g": "0_net_G.pth",
        "net_d": "0_net_D.pth",
        "net_mem": "0_net_mem.pth",
        "arcface": "arcface_backbone.pth",
    }
    weights = {k: w / f for k, f in names.items()}
    if not all(p.exists() for p in weights.values()):
        weights = write_tiny_weights(w, width=16, seed=0)

    def timed(name: str, fn, *args) -> Any:
        t0 = time.monotonic()
        r = fn(*args)
        info(f"demo: {name} done in {time.monotonic() - t0:.1f}s")
        return r

    timed(
        "preprocess",
        preprocess,
        _ctx(out, "preprocess", device, progress),
        {
            "input": clip,
            "max_frames": 400,
            "min_seconds": 0.0,
            "landmarks": "dlib",
            "max_missing": 0.1,
            "coeffs": "fit",
            "fit_iters": 100,
            "photo_iters": 0,
            "arcface": str(weights["arcface"]),
            "face_model": front,
            "lm3d": lm3d,
        },
    )
    timed(
        "train",
        train_stage,
        _ctx(out, "train", device, progress),
        {
            "stage": (),
            "preset": "tiny",
            "resume": True,
            "atcnet": str(weights["atcnet"]),
            "net_g": str(weights["net_g"]),
            "net_d": str(weights["net_d"]),
            "net_mem": str(weights["net_mem"]),
        },
    )
    result = timed(
        "infer",
        infer,
        _ctx(out, "infer", device, progress),
        {
            "audio": speech,
            "output": out / "phadtf_demo.mp4",
            "pose": "generated",
            "full_frame": True,
            "test_dropout": False,
            "atcnet": None,
            "net_g": None,
            "net_mem": None,
            "face_model": front,
        },
    )
    prev = preview(Path(result), Path(result).with_suffix(".png"))
    info(f"demo: video {result}, preview {prev} ({STAND_IN_NOTE})")
    return Path(result)
