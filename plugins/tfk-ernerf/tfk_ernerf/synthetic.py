"""A tiny synthetic subject in the original ER-NeRF layout (tests, demo, benchmark).

An ellipse "head" with eyes and a mouth, over a torso band and a plain background, seen by a camera that
sways a little; the mouth opening follows the audio features (channel 0 of the DeepSpeech-shaped
``aud.npy``) and the eyes close at scheduled blinks (``au.csv`` AU45), so audio and blink conditioning
have something real to learn. Landmarks are the 68 iBUG points of the drawn face.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


def _lms(size: int, mouth: float) -> np.ndarray:
    """68 iBUG-ordered points (x, y) of the drawn face."""
    c, r = size / 2, size * 0.28
    pts = np.zeros((68, 2), np.float32)
    for i in range(17):  # jaw
        a = math.pi * (0.1 + 0.8 * i / 16)
        pts[i] = (c - r * math.cos(a), c + 0.15 * r + r * 0.9 * math.sin(a))
    for i in range(17, 27):  # brows
        pts[i] = (c - 0.6 * r + 1.2 * r * (i - 17) / 9, c - 0.45 * r)
    for i in range(27, 31):  # nose bridge
        pts[i] = (c, c - 0.3 * r + 0.1 * r * (i - 27))
    for i in range(31, 36):  # nostrils
        pts[i] = (c - 0.2 * r + 0.1 * r * (i - 31), c + 0.15 * r)
    for k, ex in enumerate((-0.35, 0.35)):  # eyes
        for j in range(6):
            a = 2 * math.pi * j / 6
            pts[36 + 6 * k + j] = (c + ex * r + 0.15 * r * math.cos(a), c - 0.25 * r + 0.06 * r * math.sin(a))
    my = c + 0.45 * r
    for j in range(12):  # outer lips
        a = 2 * math.pi * j / 12
        pts[48 + j] = (c + 0.35 * r * math.cos(a), my + (0.05 + 0.2 * mouth) * r * math.sin(a))
    for j in range(8):  # inner lips
        a = 2 * math.pi * j / 8
        pts[60 + j] = (c + 0.25 * r * math.cos(a), my + (0.02 + 0.15 * mouth) * r * math.sin(a))
    return pts


def make_subject(out: str | Path, n_frames: int = 24, size: int = 32, seed: int = 0, focal: float | None = None):
    """Write the subject into ``out`` (created) and return it."""
    import cv2

    out = Path(out)
    for sub in ("ori_imgs", "gt_imgs", "torso_imgs", "parsing"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t = np.arange(n_frames)
    mouth = 0.5 + 0.5 * np.sin(t * 0.9) * np.sin(t * 0.31 + 1)
    mouth = np.clip(mouth, 0, 1)
    blink = np.zeros(n_frames)
    blink[5::11] = 1.8
    bc = np.zeros((size, size, 3), np.uint8)
    bc[:] = (40, 90, 140)
    cv2.imwrite(str(out / "bc.jpg"), bc, [cv2.IMWRITE_JPEG_QUALITY, 100])
    c = size / 2
    for i in range(n_frames):
        img = bc.copy()
        torso = np.zeros((size, size, 4), np.uint8)
        y0 = int(size * 0.78)
        cv2.rectangle(torso, (0, y0), (size - 1, size - 1), (60, 160, 60, 255), -1)
        img[y0:] = (60, 160, 60)
        head = (int(c), int(c))
        axes = (int(size * 0.28), int(size * 0.34))
        cv2.ellipse(img, head, axes, 0, 0, 360, (120, 170, 230), -1)
        lms = _lms(size, float(mouth[i]))
        eye_h = 1 if blink[i] > 1 else max(1, int(size * 0.03))
        for k in (0, 1):
            e = lms[36 + 6 * k : 42 + 6 * k].mean(axis=0)
            cv2.ellipse(img, (int(e[0]), int(e[1])), (max(1, int(size * 0.04)), eye_h), 0, 0, 360, (30, 30, 30), -1)
        cv2.fillPoly(img, [lms[48:60].astype(np.int32)], (40, 40, 160))
        cv2.imwrite(str(out / "gt_imgs" / f"{i}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 100])
        cv2.imwrite(str(out / "ori_imgs" / f"{i}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 100])
        np.savetxt(out / "ori_imgs" / f"{i}.lms", lms, "%f")
        cv2.imwrite(str(out / "torso_imgs" / f"{i}.png"), torso)
        par = np.full((size, size, 3), 255, np.uint8)
        cv2.ellipse(par, head, axes, 0, 0, 360, (255, 0, 0), -1)
        par[y0:] = (0, 0, 255)
        cv2.imwrite(str(out / "parsing" / f"{i}.png"), par)
    aud = rng.normal(0, 0.1, (n_frames, 16, 29)).astype(np.float64)
    aud[:, :, 0] += mouth[:, None] * 3
    np.save(out / "aud.npy", aud)
    with open(out / "au.csv", "w") as f:
        f.write("frame, face_id, timestamp, confidence, success, AU45_r\n")
        for i in range(n_frames):
            f.write(f"{i + 1}, 0, {i / 25:.2f}, 0.98, 1, {blink[i]:.2f}\n")
    focal = focal or size * 0.95  # the scene box spans about 2/3 of the frame
    n_train = int(n_frames * 10 / 11)
    for split, ids in (("train", range(n_train)), ("val", range(n_train, n_frames))):
        frames = []
        for i in ids:
            yaw, pitch = 0.03 * math.sin(i * 0.5), 0.02 * math.cos(i * 0.4)
            ry = np.array([[math.cos(yaw), 0, math.sin(yaw)], [0, 1, 0], [-math.sin(yaw), 0, math.cos(yaw)]])
            rx = np.array([[1, 0, 0], [0, math.cos(pitch), -math.sin(pitch)], [0, math.sin(pitch), math.cos(pitch)]])
            r = ry @ rx
            c2w = np.eye(4)
            c2w[:3, :3] = r
            c2w[:3, 3] = r @ np.array([0, 0, 0.76])
            frames.append({"img_id": i, "aud_id": i, "transform_matrix": c2w.tolist()})
        meta = {"focal_len": float(focal), "cx": size / 2, "cy": size / 2, "frames": frames}
        (out / f"transforms_{split}.json").write_text(json.dumps(meta))
    return out
