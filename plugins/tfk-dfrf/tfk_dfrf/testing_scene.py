"""A tiny synthetic DFRF scene for tests and benchmarks: poses around a head at the origin, smooth images."""

from __future__ import annotations

import math

import torch


def look_pose(yaw_deg: float, pitch_deg: float = 0.0, dist: float = 1.0) -> torch.Tensor:
    """c2w ``[4, 4]`` of a camera ``dist`` from the origin, looking at it (OpenGL: looks down its -Z)."""
    y, p = math.radians(yaw_deg), math.radians(pitch_deg)
    ry = torch.tensor([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = torch.tensor([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rot = ry @ rx
    c2w = torch.eye(4)
    c2w[:3, :3] = rot
    c2w[:3, 3] = rot @ torch.tensor([0.0, 0.0, dist])
    return c2w


def smooth_images(n: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """``[n, h, w, 3]`` smooth random images in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, max(2, h // 8), max(2, w // 8), generator=g)
    up = torch.nn.functional.interpolate(low, size=(h, w), mode="bicubic", align_corners=False)
    return up.clamp(0, 1).permute(0, 2, 3, 1).contiguous()


def write_synthetic_subject(root, n_frames: int = 24, size: int = 16, seed: int = 0, focal: float | None = None):
    """A tiny subject in the original DFRF layout: a coloured head disc whose 'mouth' opens with the audio.

    Writes ``transforms_{train,val}.json`` (50 % split), ``aud.npy`` ``[n, 16, 29]``, ``bc.jpg``, ``com_imgs/``,
    ``torso_imgs/`` and ``config.txt`` (near/far). Returns the folder.
    """
    import json
    from pathlib import Path

    import cv2
    import numpy as np

    root = Path(root)
    for d in ("com_imgs", "torso_imgs"):
        (root / d).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    aud = rng.normal(0, 1, (n_frames, 16, 29)).astype(np.float32)
    openness = 1 / (1 + np.exp(-aud[:, 8, 0]))  # what the mouth follows
    focal = focal or 1.2 * size
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    bc = np.stack([0.2 + 0.6 * xx / size, 0.3 + 0 * yy, 0.8 - 0.5 * yy / size], -1)
    frames = []
    for i in range(n_frames):
        yaw = 4.0 * np.sin(i / 3.0)
        pose = look_pose(float(yaw)).numpy()
        cx = size / 2 - focal * np.tan(np.radians(yaw)) * 0.3
        head = ((xx - cx) / (0.3 * size)) ** 2 + ((yy - size / 2) / (0.38 * size)) ** 2 < 1
        mouth = (np.abs(xx - cx) < 0.12 * size) & (np.abs(yy - 0.65 * size) < 0.02 * size + 0.1 * size * openness[i])
        img = bc.copy()
        img[head] = (0.9, 0.7, 0.6)
        img[head & mouth] = (0.3, 0.05, 0.05)
        torso = bc.copy()
        torso[int(0.85 * size) :] = (0.1, 0.4, 0.2)
        img[int(0.85 * size) :] = (0.1, 0.4, 0.2)
        cv2.imwrite(
            str(root / "com_imgs" / f"{i}.jpg"), (img[..., ::-1] * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 98]
        )
        cv2.imwrite(
            str(root / "torso_imgs" / f"{i}.jpg"),
            (torso[..., ::-1] * 255).astype(np.uint8),
            [cv2.IMWRITE_JPEG_QUALITY, 98],
        )
        r = int(0.3 * size)
        frames.append({
            "img_id": i, "aud_id": i, "transform_matrix": pose.tolist(),
            "face_rect": [int(cx) - r, int(0.1 * size), 2 * r, int(0.8 * size)],
            "lip_rect": [int(cx) - r // 2, int(0.55 * size), r, int(0.25 * size)],
        })  # fmt: skip
    cv2.imwrite(str(root / "bc.jpg"), (bc[..., ::-1] * 255).astype(np.uint8))
    np.save(root / "aud.npy", aud)
    half = n_frames // 2
    for name, part in (("train", frames[:half]), ("val", frames[half:])):
        meta = {"focal_len": float(focal), "cx": size / 2, "cy": size / 2, "frames": part}
        (root / f"transforms_{name}.json").write_text(json.dumps(meta))
    (root / "config.txt").write_text("near = 0.6\nfar = 1.4\ntestskip = 1\n")
    return root
