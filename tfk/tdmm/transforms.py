"""``transforms_{train,val}.json`` in the AD-NeRF / ER-NeRF / DFRF format, and ``track_params.pt``.

Pose: ``R = euler2rot(euler)``, ``t = trans / 10``; camera-to-world ``[[Rᵀ, −Rᵀt], [0,0,0,1]]`` (head fixed,
camera moves, OpenGL camera). Top level: ``focal_len``, ``cx = w/2``, ``cy = h/2``, ``frames``. Each frame:
``img_id``, ``aud_id`` (= frame index), ``transform_matrix`` (4×4), ``face_rect [x,y,w,h]`` (AD-NeRF/DFRF) and
``lip_rect [x,y,w,h]`` (DFRF). Split: the first ``int(N·train_fraction)`` frames train, the rest val
(ER-NeRF/AD-NeRF ``10/11``, DFRF ``0.5``).
"""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from tfk.errors import BadInput

SPLIT_ERNERF = Fraction(10, 11)
SPLIT_DFRF = Fraction(1, 2)


def _atomic_write_text(path: Path, text: str) -> Path:
    from tfk.fsutil import atomic_write_text

    return atomic_write_text(path, text)


def c2w_matrices(euler: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """Camera-to-world ``[N,4,4]`` from AD-NeRF ``euler [N,3]`` and ``trans [N,3]`` (``trans`` as tracked, /10 here)."""
    import torch

    from tfk.tdmm.camera import euler2rot

    rot = euler2rot(torch.as_tensor(np.asarray(euler), dtype=torch.float64)).numpy()
    t = np.asarray(trans, dtype=np.float64) / 10.0
    rinv = np.transpose(rot, (0, 2, 1))
    out = np.tile(np.eye(4), (len(rot), 1, 1))
    out[:, :3, :3] = rinv
    out[:, :3, 3] = -np.einsum("nij,nj->ni", rinv, t)
    return out


def face_rect(lms: np.ndarray, w: int, h: int) -> list[int]:
    """AD-NeRF ``face_rect [x, y, w, h]``: centred on the landmark x-range, top at ``lms[27].y − 1.15·(lms[8].y −
    lms[27].y)``, half-width 1.5× the right half, clipped to the image."""
    cx = int((lms[:, 0].min() + lms[:, 0].max()) / 2)
    cy = int(lms[27, 1])
    hw = int((lms[:, 0].max() - cx) * 1.5)
    hh = int((lms[8, 1] - cy) * 1.15)
    x, y = max(cx - hw, 0), max(cy - hh, 0)
    return [int(x), int(y), int(max(min(w - 1 - x, 2 * hw), 0)), int(max(min(h - 1 - y, 2 * hh), 0))]


def lip_rect(lms: np.ndarray, w: int, h: int) -> list[int]:
    """DFRF ``lip_rect [x, y, w, h]``: centre x = mid of the mouth x-range, centre y = ``lms[66].y``, half-width
    ``1.2·(lms[54].x − cx)``, half-height ``1.2·(lms[57].y − cy)``, clipped to the image."""
    mouth = lms[48:68]
    cx = int((mouth[:, 0].min() + mouth[:, 0].max()) / 2)
    cy = int(lms[66, 1])
    hw = int((lms[54, 0] - cx) * 1.2)
    hh = int((lms[57, 1] - cy) * 1.2)
    x, y = max(cx - hw, 0), max(cy - hh, 0)
    return [int(x), int(y), int(max(min(w - 1 - x, 2 * hw), 0)), int(max(min(h - 1 - y, 2 * hh), 0))]


def split_ids(n: int, train_fraction: float | Fraction = SPLIT_ERNERF) -> tuple[list[int], list[int]]:
    """Frame ids of the train and val sets: the first ``int(n·f)`` train (at least one), the rest val.

    With a single frame (or a fraction of 1), val repeats the last frame so both files are usable.
    """
    if n < 1:
        raise BadInput("no frames to split")
    f = Fraction(train_fraction).limit_denominator(10_000)
    if not 0 < f <= 1:
        raise BadInput(f"train fraction must be in (0, 1], got {float(f)}")
    n_train = max(1, int(n * f))
    train = list(range(n_train))
    val = list(range(n_train, n)) or [n - 1]
    return train, val


def write_transforms(
    out_dir: str | os.PathLike[str],
    euler: np.ndarray,
    trans: np.ndarray,
    focal: float,
    width: int,
    height: int,
    landmarks: np.ndarray | None = None,
    train_fraction: float | Fraction = SPLIT_ERNERF,
) -> dict[str, Path]:
    """Write ``transforms_train.json`` and ``transforms_val.json``; rectangles need ``landmarks [N,68,2]``."""
    euler, trans = np.asarray(euler), np.asarray(trans)
    n = len(euler)
    if trans.shape != (n, 3) or euler.shape != (n, 3):
        raise BadInput(f"euler/trans must be [N,3], got {euler.shape} and {trans.shape}")
    if landmarks is not None and len(landmarks) != n:
        raise BadInput(f"{len(landmarks)} landmark frames for {n} poses")
    poses = c2w_matrices(euler, trans)
    out = Path(out_dir)
    paths = {}
    for name, ids in zip(("train", "val"), split_ids(n, train_fraction), strict=True):
        frames = []
        for i in ids:
            fr = {"img_id": i, "aud_id": i, "transform_matrix": poses[i].tolist()}
            if landmarks is not None:
                fr["face_rect"] = face_rect(landmarks[i], width, height)
                fr["lip_rect"] = lip_rect(landmarks[i], width, height)
            frames.append(fr)
        doc = {"focal_len": float(focal), "cx": float(width / 2), "cy": float(height / 2), "frames": frames}
        paths[name] = _atomic_write_text(out / f"transforms_{name}.json", json.dumps(doc, indent=4))
    return paths


def read_transforms(path: str | os.PathLike[str]) -> dict:
    """Read a transforms json as the originals do: ``focal``, ``cx``, ``cy``, ``width = 2·cx``, ``height = 2·cy``,
    ``ids``, ``poses [N,4,4]`` and the optional rectangles."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
        frames = doc["frames"]
        out = {
            "focal": float(doc["focal_len"]),
            "cx": float(doc["cx"]),
            "cy": float(doc["cy"]),
            "ids": [int(f["img_id"]) for f in frames],
            "aud_ids": [int(f.get("aud_id", f["img_id"])) for f in frames],
            "poses": np.array([f["transform_matrix"] for f in frames], dtype=np.float64).reshape(-1, 4, 4),
        }
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BadInput(f"{p}: not a transforms json ({type(e).__name__}: {e})") from None
    out["width"], out["height"] = int(2 * out["cx"]), int(2 * out["cy"])
    for key in ("face_rect", "lip_rect"):
        if frames and all(key in f for f in frames):
            out[key] = np.array([f[key] for f in frames], dtype=np.int64)
    return out


def poses_to_params(poses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Invert :func:`c2w_matrices`: camera-to-world ``[N,4,4]`` -> (euler ``[N,3]``, trans ``[N,3]`` as tracked)."""
    import torch

    from tfk.tdmm.camera import rot2euler

    rot = np.transpose(poses[:, :3, :3], (0, 2, 1))
    t = -np.einsum("nij,nj->ni", rot, poses[:, :3, 3]) * 10.0
    return rot2euler(torch.as_tensor(rot)).numpy(), t


def save_track_params(path: str | os.PathLike[str], params: dict) -> Path:
    """``track_params.pt``: ``{'id': [1,K], 'exp': [N,E], 'euler': [N,3], 'trans': [N,3], 'focal': [1]}`` CPU float."""
    import torch

    out = {}
    for key in ("id", "exp", "euler", "trans", "focal"):
        if key not in params:
            raise BadInput(f"track params lack '{key}'")
        out[key] = torch.as_tensor(params[key], dtype=torch.float32).detach().cpu().clone()
    out["id"] = out["id"].reshape(1, -1)
    out["focal"] = out["focal"].reshape(1)
    from tfk.fsutil import atomic_path

    with atomic_path(path) as tmp:
        torch.save(out, tmp)
    return Path(path)


def load_track_params(path: str | os.PathLike[str]) -> dict:
    import torch

    try:
        d = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001
        raise BadInput(f"{path}: not a track_params.pt ({e})") from None
    if not isinstance(d, dict) or not {"euler", "trans", "focal"} <= set(d):
        raise BadInput(f"{path}: track params lack euler/trans/focal")
    return d
