"""``tfk demo ernerf``: every stage after preprocessing on built-in media, offline, on CPU, in minutes.

What is real: the training code (tiny preset), the renderer, inference with paste-free output, H.264 + AAC.
What is a stand-in, and said so: the subject is the synthetic one of :mod:`tfk_ernerf.synthetic` (a drawn
face whose mouth follows the audio; a real subject comes from ``tfk preprocess ernerf VIDEO``), and the audio
front-end is a fixed random projection of DeepSpeech v0.1's MFCC input to 29 channels in the AD-NeRF window
layout (the real front-end is the DeepSpeech v0.1.0 graph, ``tfk weights pull ernerf``, which needs
TensorFlow). The output shows that every stage runs end to end, not the quality of a trained model.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from tfk.plugin import StageContext

STANDIN_NOTE = (
    "audio features: MFCC stand-in (random 494->29 projection), not DeepSpeech v0.1.0; "
    "subject: synthetic drawn face, not a preprocessed video"
)


#: head training steps of the demo (about 50 s on 2 CPU cores; the render then shows the drawn face)
DEMO_STEPS = 1000


def standin_features(wav: np.ndarray, sr: int = 16000) -> np.ndarray:
    """DeepSpeech-shaped ``[N, 16, 29]`` features from MFCCs through a fixed random projection (a stand-in)."""
    from tfk.audio.align import adnerf_windows
    from tfk.audio.io import to_int16
    from tfk.audio.mfcc import deepspeech_input

    x = deepspeech_input(to_int16(wav), sr)
    w = np.random.default_rng(1234).normal(0, 1 / np.sqrt(x.shape[1]), (x.shape[1], 29))
    return adnerf_windows(x @ w, len(wav), sr)


def demo(ctx: StageContext, options: dict[str, Any]) -> Path:
    """Build the synthetic subject, train ``tiny``, drive it with a synthetic voice; returns the MP4 path."""
    from tfk.media import write_wav
    from tfk.testing.synth import synthetic_speech
    from tfk.workspace import Workspace
    from tfk_ernerf.infer import infer
    from tfk_ernerf.synthetic import make_subject
    from tfk_ernerf.train.runner import train_stages

    out = Path(options.get("out") or "ernerf-demo").resolve()
    seconds = float(options.get("seconds") or 2.0)
    out.mkdir(parents=True, exist_ok=True)
    ws = Workspace.for_subject("ernerf", "demo", out / "workspace")
    n = max(12, round(seconds * 25))
    if not (ws.root / "transforms_train.json").is_file():
        make_subject(ws.root, n_frames=n, size=64)
        voice = synthetic_speech(n / 25, 16000, seed=5)
        write_wav(ws.root / "aud.wav", voice, 16000)
        feats = standin_features(voice)
        old = np.load(ws.root / "aud.npy")
        feats[:, :, 0] += old[: len(feats), :, 0]  # keep the mouth cue of the drawn face
        np.save(ws.root / "aud.npy", feats[:n])
    steps = int(options.get("steps") or DEMO_STEPS)  # tiny's 30 head steps give a blur; 1000 the drawn face
    train_stages(
        ws,
        None,
        "tiny",
        ctx.device,
        progress=ctx.progress,
        overrides={"iters_head": steps, "iters_lips": max(1, steps // 4), "iters_torso": max(1, steps // 4)},
    )
    speech = Path(options["audio"]) if options.get("audio") else out / "speech.wav"
    if not speech.exists():
        write_wav(speech, synthetic_speech(seconds * 0.8, 16000, seed=11), 16000)
    from tfk import audio as taudio

    video = infer(
        ws.root,
        "demo",
        speech,
        out / "ernerf_demo.mp4",
        merge="none",
        device=ctx.device,
        features=standin_features(taudio.load(speech)),
        progress=ctx.progress,
    )
    preview = ws.root / "train" / "torso" / "preview.png"
    if not preview.is_file():
        preview = ws.root / "train" / "head" / "preview.png"
    if preview.is_file():
        shutil.copyfile(preview, out / "ernerf_demo.png")
    (out / "README.txt").write_text(
        "tfk demo ernerf\n"
        f"video: {video.name} (render left of the preview image, ground truth right)\n"
        f"stand-ins: {STANDIN_NOTE}\n"
        "a real model needs: tfk preprocess ernerf VIDEO --uid NAME (BFM 2009, parsing and audio weights), "
        "then tfk train ernerf --uid NAME --preset paper on a GPU\n"
    )
    from tfk.console import info

    info(f"ernerf demo: {video} and a preview (render | ground truth) {out / 'ernerf_demo.png'}")
    info(f"ernerf demo: stand-ins: {STANDIN_NOTE}; see {out / 'README.txt'} for what a real model needs")
    if ctx.run is not None:
        ctx.run.record_output("video", video)
    return video
