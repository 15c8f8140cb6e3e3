"""``tfk preprocess phadtf VIDEO --uid NAME``: the resumable preparation of one target person.

Steps (each a :class:`tfk.workspace.Step`, resumed/skipped by fingerprint):

1. ``frames``: the first ``max_frames`` (400) frames at 25 fps as PNG, the audio track as 16 kHz WAV. A clip
   shorter than ``min_seconds`` (16 s: the original trains on frames 0-299 and tests on 300-399) is refused.
2. ``landmarks``: 68-point landmarks (tfk.face) and the original's integer 5-point ``frame{k}.txt``; frames
   without a face are reported by number and interpolated (too many -> a clear error, no crash).
3. ``coeffs``: 257-d coefficients per frame (Deep3D regressor, or the toolbox's fitting substitute), ``frame{k}.mat``
   with ``coeff``, ``lm_5p`` and the ``source``.
4. ``renders``: RGBA render of each frame's coefficients, the per-frame aligned crop and the fixed crop made with
   frame 0's transform (Preprocess2); ``lm_5p`` = 5 points in the fixed crop - in the per-frame crop.
5. ``blend``: the MATLAB alpha blend of each render over its crop (``frame{k}_renderold_bm.png``).
6. ``mfcc``: MFCC (M, 13) of the clip's audio and its (T, 28, 12) windows.
7. ``identity``: ArcFace features of every frame (PyTorch substitute of the MXNet model; source recorded).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from tfk.errors import BadInput, UsageError
from tfk_phadtf.subject import write_image

log = logging.getLogger("tfk.phadtf")
FPS = 25


def _n_train(n: int) -> int:
    """Frames used for fine-tuning: 0-299 of 400 as the original; proportionally (75%) on shorter clips."""
    return 300 if n >= 400 else max(2, round(0.75 * n))


def check_clip(video: Path, min_seconds: float):
    """Preflight (video + audio) and the length rule; returns the probe result."""
    from tfk.media import preflight

    info = preflight(video, video=True, audio=True)
    duration = float(info.video_duration or info.duration)
    if duration + 1e-6 < min_seconds:
        raise BadInput(
            f"{video.name} is {duration:.1f} s long; PHADTF needs at least {min_seconds:g} s of one person "
            f"(it fine-tunes on frames 0-299 and tests on 300-399 at 25 fps)",
            hint="use a longer clip (or --min-seconds for a quick experiment)",
        )
    return info


def step_frames(sc, video: Path, max_frames: int, min_seconds: float) -> None:
    from tfk.media import extract_audio, iter_frames, probe

    info = check_clip(video, min_seconds)
    src = video
    if info.fps is None or abs(info.fps - FPS) > 0.01:
        from tfk.media import normalize_video

        src = normalize_video(video, sc.out / "clip25.mp4", fps=FPS)
        info = probe(src)
    out = sc.out / "frames"
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    size = None
    for k, rgb in enumerate(iter_frames(src, stop=max_frames)):
        write_image(out / f"{k}.png", rgb)
        size = (rgb.shape[1], rgb.shape[0])
        n = k + 1
    if n < 3:
        raise BadInput(f"{video.name}: only {n} frame(s) decoded")
    extract_audio(src, sc.out / "audio.wav", sr=16000)
    meta = {"n_frames": n, "n_train": _n_train(n), "fps": FPS, "size": size, "source": str(video)}
    (sc.out / "meta.json").write_text(json.dumps(meta, indent=1))
    sc.info.update(meta)


def step_landmarks(sc, backend: str, max_missing: float) -> None:
    from tfk.face import track_landmarks
    from tfk.tdmm.deep3d import extract_5p

    n = json.loads((sc.step_dir("frames") / "meta.json").read_text())["n_frames"]

    def gen():
        from tfk_phadtf.subject import Subject

        sub = Subject(sc.workspace.steps_dir)
        for k in range(n):
            yield sub.image("frames", f"frames/{k}.png")

    track = track_landmarks(gen(), backend=backend, max_missing=max_missing, progress=sc.progress)
    missing = track.interpolated
    if missing:
        log.warning("no face found in %d frame(s): %s (landmarks interpolated)", len(missing), _list(missing))
    np.save(sc.out / "lm68.npy", track.points.astype(np.float32))
    txt = sc.out / "txt"
    txt.mkdir()
    for k, pts in enumerate(track.points):
        five = extract_5p(pts)
        five[2] = pts[33]  # PHADTF's extract_frame1.py takes the nose at point 33 (Deep3D uses 30)
        five[0], five[1] = pts[36:42].mean(0), pts[42:48].mean(0)
        np.savetxt(txt / f"frame{k}.txt", np.round(five).astype(int), fmt="%d")
    (sc.out / "missing.json").write_text(json.dumps(missing))
    sc.info["interpolated_frames"] = missing


def _list(ix: list[int], limit: int = 12) -> str:
    s = ", ".join(str(i) for i in ix[:limit])
    return s + (f" … (+{len(ix) - limit})" if len(ix) > limit else "")


def step_coeffs(sc, method: str, face_model_path, lm3d_path, fit_iters: int, photo_iters: int, device: str) -> None:
    from tfk.tdmm.fit257 import compute_coeffs
    from tfk.tdmm.frames import FrameSource
    from tfk_phadtf import resources

    lms = np.load(sc.step_dir("landmarks") / "lm68.npy")
    src = FrameSource(sc.step_dir("frames") / "frames")
    fm = resources.face_model(face_model_path, device) if method != "deep3d" else None
    res = compute_coeffs(
        src,
        lms,
        method=method,
        device=device,
        face_model=fm,
        lm3d=resources.lm3d(lm3d_path),
        progress=sc.progress,
        **({"iters": fit_iters, "photo_iters": photo_iters} if method != "deep3d" else {}),
    )
    np.save(sc.out / "coeff.npy", res.coeff.astype(np.float32))
    np.save(sc.out / "trans_params.npy", res.trans_params.astype(np.float32))
    (sc.out / "source.txt").write_text(res.source)
    sc.info["coeff_source"] = res.source


def step_renders(sc, face_model_path, lm3d_path, device: str) -> None:
    from tfk.tdmm.deep3d import align_image, write_frame_coeffs
    from tfk_phadtf import resources
    from tfk_phadtf.crops import crop_with, to_crop
    from tfk_phadtf.facerender import FaceRenderer
    from tfk_phadtf.subject import Subject

    sub = Subject(sc.workspace.steps_dir)
    coeff = np.load(sc.step_dir("coeffs") / "coeff.npy")
    tps = np.load(sc.step_dir("coeffs") / "trans_params.npy")
    lms = np.load(sc.step_dir("landmarks") / "lm68.npy")
    source = (sc.step_dir("coeffs") / "source.txt").read_text()
    lm3d = resources.lm3d(lm3d_path)
    renderer = FaceRenderer(resources.face_model(face_model_path, device), device)
    lm5 = np.zeros((len(coeff), 5, 2), np.float32)
    for s0 in range(0, len(coeff), 16):
        ks = range(s0, min(len(coeff), s0 + 16))
        rgba = renderer.render(coeff[list(ks)])
        for j, k in enumerate(ks):
            img = sub.image("frames", f"frames/{k}.png")
            tp, crop, _ = align_image(img, lms[k], lm3d)
            write_image(sc.out / f"frame{k}_render.png", rgba[j])
            write_image(sc.out / f"frame{k}.png", crop)
            write_image(sc.out / f"frame{k}_input2.png", crop_with(img, tps[0]))
            five = _five(lms[k])
            lm5[k] = to_crop(five, tps[0]) - to_crop(five, tp)
    np.save(sc.out / "lm_5p.npy", lm5)
    write_frame_coeffs(sc.out / "mat", coeff, lm5, source)


def _five(lm68: np.ndarray) -> np.ndarray:
    from tfk.tdmm.deep3d import extract_5p

    return extract_5p(lm68)


def step_blend(sc) -> None:
    from tfk_phadtf.blend import alpha_blend
    from tfk_phadtf.subject import Subject

    sub = Subject(sc.workspace.steps_dir)
    n = sub.n_frames
    for k in range(n):
        bm = alpha_blend(sub.image("renders", f"frame{k}.png"), sub.image("renders", f"frame{k}_render.png"))
        write_image(sc.out / f"frame{k}_renderold_bm.png", bm)


def step_mfcc(sc) -> None:
    from tfk.audio.mfcc import MFCC_CONTEXT_PAD, mfcc, mfcc_context_windows
    from tfk.media import load_audio

    wav = load_audio(sc.step_dir("frames") / "audio.wav", sr=16000)
    padded = np.concatenate([np.zeros(MFCC_CONTEXT_PAD), wav, np.zeros(MFCC_CONTEXT_PAD)])
    np.save(sc.out / "mfcc.npy", mfcc(padded, 16000, winstep=0.01).astype(np.float32))
    np.save(sc.out / "windows.npy", mfcc_context_windows(wav).astype(np.float32))


def step_identity(sc, arcface_path: Path, device: str) -> None:
    from tfk_phadtf.models.arcface import SOURCE, align_112, identity_features
    from tfk_phadtf.models.checkpoint import load_arcface
    from tfk_phadtf.subject import Subject

    sub = Subject(sc.workspace.steps_dir)
    net = load_arcface(arcface_path).eval().to(device)
    lms = np.load(sc.step_dir("landmarks") / "lm68.npy")
    feats = []
    for s0 in range(0, sub.n_frames, 32):
        ks = range(s0, min(sub.n_frames, s0 + 32))
        crops = np.stack([align_112(sub.image("frames", f"frames/{k}.png"), _five(lms[k])) for k in ks])
        feats.append(identity_features(net, crops, device))
    np.save(sc.out / "identity.npy", np.concatenate(feats))
    (sc.out / "source.txt").write_text(SOURCE)
    sc.info["identity_source"] = SOURCE


def preprocess(ctx, options: dict[str, Any]) -> dict[str, Any]:
    """The ``tfk_preprocess`` hook body."""
    from tfk.workspace import Pipeline, Step
    from tfk_phadtf import artifacts as arts
    from tfk_phadtf.resources import resolve

    if ctx.workspace is None:
        raise UsageError("preprocess phadtf needs --uid (or --workspace)")
    video = Path(options["input"])
    check_clip(video, float(options["min_seconds"]))  # refuse a short clip before asking for any weights
    fm, l3 = options.get("face_model"), options.get("lm3d")
    arcface = resolve(options.get("arcface"), arts.ARCFACE, ctx.require)
    dev = ctx.device
    o = options
    steps = [
        Step(
            "frames",
            lambda sc: step_frames(sc, video, int(o["max_frames"]), float(o["min_seconds"])),
            params={"max_frames": int(o["max_frames"]), "min_seconds": float(o["min_seconds"])},
            inputs=[video],
        ),
        Step(
            "landmarks",
            lambda sc: step_landmarks(sc, str(o["landmarks"]), float(o["max_missing"])),
            params={"backend": str(o["landmarks"]), "max_missing": float(o["max_missing"])},
        ),
        Step(
            "coeffs",
            lambda sc: step_coeffs(sc, str(o["coeffs"]), fm, l3, int(o["fit_iters"]), int(o["photo_iters"]), dev),
            params={"method": str(o["coeffs"]), "fit_iters": int(o["fit_iters"]), "photo_iters": int(o["photo_iters"])},
            inputs=[p for p in (fm, l3) if p],
        ),
        Step("renders", lambda sc: step_renders(sc, fm, l3, dev), inputs=[p for p in (fm, l3) if p]),
        Step("blend", step_blend, after=["renders"]),
        Step("mfcc", step_mfcc, after=["frames"]),
        Step("identity", lambda sc: step_identity(sc, arcface, dev), inputs=[arcface], after=["landmarks"]),
    ]
    pipe = Pipeline(ctx.workspace, steps)
    pipe.run(force=ctx.force, from_step=ctx.from_step, until_step=ctx.until_step, progress=ctx.progress)
    ws = ctx.workspace
    meta = json.loads((ws.step_dir("frames") / "meta.json").read_text())
    missing = json.loads((ws.step_dir("landmarks") / "missing.json").read_text())
    return {
        "uid": ws.uid,
        "frames": meta["n_frames"],
        "train_frames": meta["n_train"],
        "interpolated_frames": missing,
        "coeff_source": (ws.step_dir("coeffs") / "source.txt").read_text(),
        "identity_source": (ws.step_dir("identity") / "source.txt").read_text(),
    }
