"""Test helpers for the NeRF preprocessing (used by the ER-NeRF and DFRF plugin tests; no network, no weights).

- :func:`identity_rvm_checkpoint`: a checkpoint in the published ``rvm_mobilenetv3.pth`` key layout whose matte is
  1 everywhere (random network, projection set to pass the frame through): exercises the real loading and
  compositing path without the real weights.
- :func:`synthetic_3dmm`: the BFM-structured synthetic model of :mod:`tfk.tdmm.synthetic`, derived to
  ``adnerf_3dmm.npz`` (BFM 2009 is licence-gated).
- :func:`no_face_clip`, :func:`two_face_clip`: bad inputs with audio.
- :func:`check_contract`: the preprocessing contract of the reference notes (8.2) on a subject folder; returns the
  facts it measured (frame count, split, ...) and raises ``AssertionError`` naming the first violation. (The torso
  images are opaque on the in-painted strip above the neck/torso, 53 px at most, by the originals' design.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def identity_rvm_checkpoint(path: str | Path, seed: int = 0) -> Path:
    import torch

    from tfk.nerfprep.rvm import MattingNetwork

    torch.manual_seed(seed)
    sd = MattingNetwork().state_dict()
    sd["project_mat.conv.weight"].zero_()
    sd["project_mat.conv.bias"].copy_(torch.tensor([0.0, 0.0, 0.0, 10.0]))
    torch.save(sd, Path(path))
    return Path(path)


def synthetic_3dmm(directory: str | Path) -> Path:
    from tfk.tdmm.bfm import derive_bfm
    from tfk.tdmm.synthetic import make_synthetic_bfm

    d = Path(directory)
    files = make_synthetic_bfm(d / "src", seed=0)
    files.update(derive_bfm(files["01_MorphableModel.mat"], d / "derived", helpers=files))
    return Path(files["adnerf_3dmm.npz"])


def no_face_clip(path: str | Path, seconds: float = 2.0, size: int = 128) -> Path:
    """Smooth coloured noise with speech: a valid clip without any face."""
    import cv2

    from tfk.media import VideoWriter
    from tfk.testing.synth import synthetic_speech

    rng = np.random.default_rng(0)
    n = round(seconds * 25)
    with VideoWriter(path, fps=25, audio=synthetic_speech(seconds), audio_rate=16000) as w:
        for _ in range(n):
            small = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
            w.write(cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC))
    return Path(path)


def two_face_clip(src: str | Path, path: str | Path) -> Path:
    """Two copies of a talking clip side by side (two people)."""
    from tfk.media import run_ffmpeg

    run_ffmpeg(
        [
            "-y",
            "-i",
            Path(src),
            "-filter_complex",
            "[0:v][0:v]hstack=inputs=2[v]",
            "-map",
            "[v]",
            "-map",
            "0:a",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            Path(path),
        ],
        what="two faces",
    )
    return Path(path)


def _imread(path: Path, flags=None):
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED if flags is None else flags)
    assert img is not None, f"{path} is not a readable image"
    return img


def check_contract(d: str | Path, layout: str, expected_frames: int | None = None) -> dict[str, Any]:
    """Check a subject folder against the contract of notes 8.2 (``layout`` ``ernerf`` or ``dfrf``)."""
    import cv2

    from tfk.face.parsing import colour_mask_to_regions
    from tfk.face.parsing.masks import HEAD, NECK, TORSO
    from tfk.media import load_audio, probe

    d = Path(d)
    md = json.loads((d / "model_data.json").read_text())
    names = ["aud.wav", "bc.jpg", "model_data.json", "ori_imgs", "parsing", "torso_imgs"]
    names += (
        ["gt_imgs", "au.csv", "face_data.mp4", "head_bbox.json"] if layout == "ernerf" else ["com_imgs", "head_imgs"]
    )
    tracked = "track" not in md["skipped"] and "track_write" not in md["skipped"]
    if tracked:
        names += ["track_params.pt", "transforms_train.json", "transforms_val.json"]
        names += ["config.txt"] if layout == "dfrf" else []
    for name in names:
        assert (d / name).exists(), f"{name} is missing from {d}"

    # frames: 0..N-1, one .lms each, 68 points inside the image
    jpgs = sorted(int(p.stem) for p in (d / "ori_imgs").glob("*.jpg"))
    n = len(jpgs)
    assert jpgs == list(range(n)), "frames are not named 0..N-1"
    if expected_frames is not None:
        assert abs(n - expected_frames) <= 1, f"{n} frames, expected {expected_frames} ± 1"
    assert md["frame_count"] == n
    h, w = _imread(d / "ori_imgs" / "0.jpg").shape[:2]
    assert (w, h) == (md["frame_width"], md["frame_height"])
    for i in range(n):
        lms = np.loadtxt(d / "ori_imgs" / f"{i}.lms")
        assert lms.shape == (68, 2), f"{i}.lms has shape {lms.shape}"
        assert (lms >= -0.05 * w).all() and (lms[:, 0] <= 1.05 * w).all() and (lms[:, 1] <= 1.05 * h).all()

    # audio: 16 kHz, matches the video duration within a frame
    info = probe(d / "aud.wav")
    assert info.audio_rate == 16000, f"aud.wav is {info.audio_rate} Hz"
    wav = load_audio(d / "aud.wav", sr=16000)
    assert abs(len(wav) / 16000 - n / 25) <= 1 / 25 + 1e-6, f"audio {len(wav) / 16000:.3f} s vs {n} frames"

    # parsing: only the four colour codes; torso/head images per frame
    codes = {(255, 255, 255), (255, 0, 0), (0, 255, 0), (0, 0, 255)}
    head_pixels = 0
    for i in range(n):
        m = _imread(d / "parsing" / f"{i}.png", cv2.IMREAD_COLOR)
        assert m.shape[:2] == (h, w)
        assert {tuple(c) for c in np.unique(m.reshape(-1, 3), axis=0)} <= codes, f"parsing/{i}.png has other colours"
        regions = colour_mask_to_regions(m)
        head_pixels += int((regions == HEAD).sum())
        if layout == "ernerf":
            t = _imread(d / "torso_imgs" / f"{i}.png")
            assert t.shape == (h, w, 4), f"torso_imgs/{i}.png is not RGBA"
            # transparent on the head, except the in-painting (up to 53 px above the neck/torso top of a column)
            body = (regions == NECK) | (regions == TORSO)
            top = np.where(body.any(axis=0), body.argmax(axis=0), h)
            far_head = (regions == HEAD) & (np.arange(h)[:, None] < top[None, :] - 60)
            assert (t[..., 3][far_head] == 0).all(), f"torso_imgs/{i}.png is opaque on head pixels"
            assert (t[..., :3][t[..., 3] == 0] == 0).all()
            assert _imread(d / "gt_imgs" / f"{i}.jpg").shape == (h, w, 3)
        else:
            for sub in ("com_imgs", "head_imgs", "torso_imgs"):
                assert _imread(d / sub / f"{i}.jpg").shape == (h, w, 3), f"{sub}/{i}.jpg"
    assert head_pixels > 0.05 * n * h * w, "parsing found (almost) no head"
    assert _imread(d / "bc.jpg").shape == (h, w, 3)

    facts: dict[str, Any] = {"frames": n, "size": (w, h), "model_data": md}
    if tracked:
        import torch

        tp = torch.load(d / "track_params.pt", weights_only=True)
        assert tp["euler"].shape == (n, 3) and tp["trans"].shape == (n, 3) and tp["focal"].shape == (1,)
        ids = {}
        for part in ("train", "val"):
            doc = json.loads((d / f"transforms_{part}.json").read_text())
            assert {"focal_len", "cx", "cy", "frames"} <= set(doc)
            assert (doc["cx"], doc["cy"]) == (w / 2, h / 2)
            ids[part] = [f["img_id"] for f in doc["frames"]]
            for f in doc["frames"]:
                assert f["aud_id"] == f["img_id"]
                m = np.array(f["transform_matrix"])
                assert m.shape == (4, 4) and np.allclose(m[3], [0, 0, 0, 1])
                r = m[:3, :3]
                assert np.abs(r.T @ r - np.eye(3)).max() < 1e-5, "rotation is not orthonormal"
                if layout == "dfrf":
                    assert len(f["face_rect"]) == 4 and len(f["lip_rect"]) == 4
        frac = 0.5 if layout == "dfrf" else 10 / 11
        assert len(ids["train"]) == max(1, int(n * frac)), f"{len(ids['train'])} training frames of {n}"
        assert ids["train"] + ids["val"] == list(range(n))
        facts["split"] = (len(ids["train"]), len(ids["val"]))
        assert md["near"] < md["far"]
    if layout == "ernerf":
        from tfk.nerfprep.blinks import read_au45

        au = read_au45(d / "au.csv")
        assert len(au) == n and (au >= 0).all() and (au <= 5).all()
        assert md["blinks"]["source"] in ("openface", "landmark-ear-estimate")
    return facts
