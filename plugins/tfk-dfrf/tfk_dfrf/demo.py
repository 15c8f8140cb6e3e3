"""``tfk demo dfrf``: every stage on built-in media, on CPU, in a few minutes (tiny preset, no download).

What is real and what is a stand-in is printed and returned under ``notes``:

* subject data: the subject preprocessed in the workspace when there is one; otherwise a small synthetic
  subject written in the original DFRF layout (preprocessing a real clip needs BFM 2009, the BiSeNet parsing
  weights and DeepSpeech; see ``tfk preprocess dfrf``);
* training: the tiny preset *from scratch* (the real path fine-tunes the published base model, a manual
  download: ``tfk weights pull dfrf``);
* audio features: a named log-band-energy stand-in for DeepSpeech v0.1 unless ``--features`` is given.

Writes ``<out>/dfrf_demo.mp4`` (H.264 + AAC) and ``<out>/dfrf_demo.png`` (a preview strip of frames).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: training steps of the demo's tiny model (about 50 s on 2 CPU cores: a head with a mouth, ~21 dB on val)
DEMO_STEPS = 300


def run_demo(ctx, options: dict[str, Any]) -> Path:
    import cv2
    import numpy as np

    from tfk.testing.synth import make_audio_file
    from tfk_dfrf.data import find_subject_dir
    from tfk_dfrf.evaluate import evaluate
    from tfk_dfrf.features import STANDIN_NAME, standin_deepspeech
    from tfk_dfrf.infer import infer
    from tfk_dfrf.testing_scene import write_synthetic_subject
    from tfk_dfrf.train import train

    out = Path(options.get("out") or Path(ctx.home) / "demo" / "dfrf")
    out.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    subject = None
    if ctx.workspace is not None:
        try:
            subject = find_subject_dir(ctx.workspace.root)
            notes.append(f"subject: preprocessed data in {subject}")
        except Exception:
            subject = None
    if subject is None:
        subject = write_synthetic_subject(out / "subject", n_frames=16, size=32)
        notes.append("subject: SYNTHETIC stand-in in the DFRF layout (real clips: tfk preprocess dfrf VIDEO --uid X)")
    notes.append("training: tiny preset from scratch (the real path fine-tunes the base model: tfk weights pull dfrf)")
    ckpt = train(
        [subject],
        out / "checkpoints",
        preset="tiny",
        init="scratch",
        device=ctx.device,
        overrides={"steps": int(options.get("steps") or DEMO_STEPS), "n_rand": 48, "n_samples": 6, "n_importance": 6},
    )
    audio = options.get("audio") or make_audio_file(out / "speech.wav", seconds=1.0)
    feats = options.get("features")
    if feats is None:
        notes.append(f"audio features: {STANDIN_NAME}")
    video = infer(
        subject,
        ckpt,
        audio,
        out / "dfrf_demo.mp4",
        quality="fast",
        references="0,2,4,6",
        seed=0,
        device=ctx.device,
        features=feats,
        feature_fn=standin_deepspeech if feats is None else None,
    )
    frames = []
    cap = cv2.VideoCapture(str(video))
    ok, frame = cap.read()
    while ok and len(frames) < 4:
        frames.append(frame)
        for _ in range(5):
            ok, frame = cap.read()
    cap.release()
    if frames:  # a strip of frames, enlarged (nearest) so that the tiny frames can be seen
        strip = np.concatenate(frames, 1)
        k = max(1, 128 // strip.shape[0])
        cv2.imwrite(str(out / "dfrf_demo.png"), cv2.resize(strip, None, fx=k, fy=k, interpolation=cv2.INTER_NEAREST))
    scores = evaluate(
        subject, ckpt, quality="fast", references="0,2,4,6", device=ctx.device, max_frames=2, metrics=["psnr", "ssim"]
    )
    notes.append(f"val PSNR of the tiny model (2 frames): {scores.get('psnr_raw', float('nan')):.2f} dB")
    from tfk.console import info

    for n in notes:  # shown to the user: what is real and what is a stand-in
        info(f"dfrf demo: {n}")
    return video
