"""A preprocessed subject in the original ER-NeRF on-disk layout.

``transforms_{train,val}.json`` (``focal_len``, ``cx``, ``cy``, optional ``h``/``w``, frames with ``img_id``,
``aud_id``, ``transform_matrix``), audio features (``aud_ds.npy``/``aud.npy`` DeepSpeech ``[N,16,29]``,
``aud_hu.npy`` HuBERT ``[N,2,1024]``, ``aud_eo.npy`` wav2vec ``[N,16,44]``), ``gt_imgs/{i}.jpg``,
``torso_imgs/{i}.png`` (RGBA), ``bc.jpg``, ``ori_imgs/{i}.lms``, ``au.csv`` (OpenFace AU45 blink) and,
when the preprocessing wrote it, ``model_data.json``. Images are read lazily (memory does not grow with
the clip length).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tfk.errors import BadInput, InputNotFound, UsageError
from tfk_ernerf.render.cameras import nerf_matrix_to_ngp

#: feature file names per front-end (the names of :mod:`tfk.nerfprep.features`), in the order they are looked for
FEATURE_FILES = {
    "deepspeech": ("aud_ds.npy", "aud.npy"),
    "hubert": ("aud_hu.npy",),
    "wav2vec": ("aud_eo.npy",),
}
#: other names of a front-end (the original's ``--asr_model`` substring; earlier tfk checkpoints)
ALIASES = {"esperanto": "wav2vec"}


def canonical_frontend(name: str) -> str:
    """``deepspeech``, ``hubert`` or ``wav2vec`` (``esperanto`` is wav2vec); a clear error for anything else."""
    fe = ALIASES.get(name, name)
    if fe not in FEATURE_FILES:
        raise UsageError(f"unknown audio features {name!r} (choose from {', '.join(FEATURE_FILES)})")
    return fe


def find_subject_dir(root: Path) -> Path | None:
    """The directory holding ``transforms_train.json``: ``root``, ``root/data`` or a step folder under it."""
    for cand in (root, root / "data"):
        if (cand / "transforms_train.json").is_file():
            return cand
    steps = root / "steps"
    if steps.is_dir():
        for p in sorted(steps.glob("*/transforms_train.json")):
            return p.parent
    return None


def find_features(data_dir: Path, frontend: str | None = None) -> tuple[Path, str]:
    """``(path, front-end)`` of the audio features; ``frontend`` None takes the first that exists."""
    names = [canonical_frontend(frontend)] if frontend else list(FEATURE_FILES)
    for fe in names:
        for fn in FEATURE_FILES[fe]:
            if (data_dir / fn).is_file():
                return data_dir / fn, fe
    want = ", ".join(fn for fe in names for fn in FEATURE_FILES[fe])
    raise InputNotFound(f"no audio features in {data_dir} (looked for {want})", hint="run `tfk preprocess ernerf`")


def load_features(path: Path) -> torch.Tensor:
    """``[N, W, C]`` on disk -> ``[N, C, W]`` float32 (the network's layout)."""
    a = np.load(path, allow_pickle=False)
    if a.ndim != 3:
        raise BadInput(f"{path}: audio features must be [N, window, channels], got shape {a.shape}")
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).permute(0, 2, 1).contiguous()


def audio_window(feats: torch.Tensor, index: int, att: int = 2) -> torch.Tensor:
    """The 8-frame window of frame ``index`` (``[i-4, i+4)``, zero padded; att 1: 8 to the left; 0: one row)."""
    if att == 0:
        return feats[min(index, feats.shape[0] - 1)][None]
    left, right = (index - 4, index + 4) if att == 2 else (index - 7, index + 1)
    n = feats.shape[0]
    out = torch.zeros(8, *feats.shape[1:], dtype=feats.dtype)
    lo, hi = max(left, 0), min(right, n)
    if hi > lo:
        out[lo - left : hi - left] = feats[lo:hi]
    return out


def read_au45(path: Path) -> dict[int, float]:
    """``{frame index: AU45_r}`` from an OpenFace CSV (header whitespace stripped: ``' AU45_r'`` == ``'AU45_r'``)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise BadInput(f"{path} is empty")
    head = [h.strip() for h in rows[0]]
    if "AU45_r" not in head:
        raise BadInput(f"{path} has no AU45_r column (an OpenFace FeatureExtraction CSV is expected)")
    col = head.index("AU45_r")
    fcol = head.index("frame") if "frame" in head else None
    out = {}
    for i, r in enumerate(rows[1:]):
        if not r:
            continue
        idx = int(float(r[fcol])) - 1 if fcol is not None else i  # OpenFace frames count from 1
        out[idx] = float(r[col])
    return out


def rects_from_lms(lms: np.ndarray, h: int, w: int) -> dict[str, list[int]]:
    """Original provider rects ``[xmin, xmax, ymin, ymax]`` with x = row: face, lower half, lips (square)."""
    rows, cols = lms[:, 1], lms[:, 0]
    face = [int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())]
    lhalf = [int(lms[31:36, 1].min()), int(rows.max()), int(cols.min()), int(cols.max())]
    lr, lc = lms[48:60, 1], lms[48:60, 0]
    xmin, xmax, ymin, ymax = int(lr.min()), int(lr.max()), int(lc.min()), int(lc.max())
    cx, cy = (xmin + xmax) // 2, (ymin + ymax) // 2
    half = max(xmax - xmin, ymax - ymin) // 2
    lips = [max(0, cx - half), min(h, cx + half), max(0, cy - half), min(w, cy + half)]
    eye = [int(lms[36:48, 1].min()), int(lms[36:48, 1].max()), int(lms[36:48, 0].min()), int(lms[36:48, 0].max())]
    return {"face": face, "lhalf": lhalf, "lips": lips, "eye": eye}


def _read_rgb(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputNotFound(f"cannot read image {path}")
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


@dataclass
class Frame:
    index: int  # position in the split
    img_id: int
    aud_id: int
    pose: torch.Tensor  # [4, 4] NeRF frame


@dataclass
class Subject:
    """One split of a subject (lazily loaded images)."""

    data_dir: Path
    split: str
    h: int
    w: int
    intrinsics: tuple[float, float, float, float]
    frames: list[Frame]
    features: torch.Tensor  # [N, C, W]
    frontend: str
    feature_file: str
    eye: dict[int, float] = field(default_factory=dict)
    eye_source: str = "none"
    model_data: dict[str, Any] = field(default_factory=dict)
    _bc: torch.Tensor | None = None
    _split_feats: torch.Tensor | None = None

    @classmethod
    def load(cls, data_dir: str | Path, split: str = "train", frontend: str | None = None) -> Subject:
        d = Path(data_dir)
        tf = d / f"transforms_{split}.json"
        if not tf.is_file():
            raise InputNotFound(f"{tf} not found", hint="run `tfk preprocess ernerf VIDEO --uid UID` first")
        meta = json.loads(tf.read_text())
        cx, cy = float(meta["cx"]), float(meta["cy"])
        if "h" in meta and "w" in meta:
            h, w = int(meta["h"]), int(meta["w"])
        else:
            h, w = int(cy) * 2, int(cx) * 2
        if "focal_len" in meta:
            fx = fy = float(meta["focal_len"])
        elif "fl_x" in meta or "fl_y" in meta:
            fx = float(meta.get("fl_x", meta.get("fl_y")))
            fy = float(meta.get("fl_y", meta.get("fl_x")))
        else:
            raise BadInput(f"{tf} has no focal length (focal_len or fl_x/fl_y)")
        if not meta.get("frames"):
            raise BadInput(f"{tf} lists no frames")
        frames = []
        for i, fr in enumerate(meta["frames"]):
            pose = torch.tensor(fr["transform_matrix"], dtype=torch.float32)
            frames.append(Frame(i, int(fr["img_id"]), int(fr.get("aud_id", fr["img_id"])), nerf_matrix_to_ngp(pose)))
        path, fe = find_features(d, frontend)
        feats = load_features(path)
        eye, src = {}, "none"
        if (d / "au.csv").is_file():
            eye = {k: min(max(v, 0.0), 2.0) / 2.0 for k, v in read_au45(d / "au.csv").items()}
            src = "au.csv"
        md = {}
        if (d / "model_data.json").is_file():
            md = json.loads((d / "model_data.json").read_text())
        return cls(d, split, h, w, (fx, fy, cx, cy), frames, feats, fe, path.name, eye, src, md)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def poses(self) -> torch.Tensor:
        return torch.stack([f.pose for f in self.frames])

    @property
    def split_features(self) -> torch.Tensor:
        """The split's own rows, ``features[min(aud_id, N - 1)]`` per frame (the original stacks them so)."""
        if getattr(self, "_split_feats", None) is None:
            n = self.features.shape[0]
            idx = torch.tensor([min(f.aud_id, n - 1) for f in self.frames])
            self._split_feats = self.features[idx]
        return self._split_feats

    def audio(self, frame: Frame, att: int = 2) -> torch.Tensor:
        """The 8-frame window of ``frame`` over the split's rows (zero-padded at the split's ends, as the original)."""
        return audio_window(self.split_features, frame.index, att)

    def eye_of(self, frame: Frame) -> float:
        return float(self.eye.get(frame.img_id, 0.0))

    def gt(self, frame: Frame) -> torch.Tensor:
        """``[H*W, 3]`` float in [0, 1]."""
        return self._img(self.data_dir / "gt_imgs" / f"{frame.img_id}.jpg")[:, :3]

    def torso(self, frame: Frame) -> torch.Tensor:
        """``[H*W, 4]`` RGBA float."""
        t = self._img(self.data_dir / "torso_imgs" / f"{frame.img_id}.png")
        if t.shape[1] == 3:
            t = torch.cat([t, torch.ones_like(t[:, :1])], dim=1)
        return t

    @property
    def bc(self) -> torch.Tensor:
        if self._bc is None:
            self._bc = self._img(self.data_dir / "bc.jpg")[:, :3]
        return self._bc

    def bg_torso(self, frame: Frame) -> torch.Tensor:
        """The head-stage background: the GT torso image over ``bc.jpg``."""
        t = self.torso(frame)
        return t[:, :3] * t[:, 3:] + self.bc * (1 - t[:, 3:])

    def lms(self, frame: Frame) -> np.ndarray:
        p = self.data_dir / "ori_imgs" / f"{frame.img_id}.lms"
        if not p.is_file():
            raise InputNotFound(f"landmarks {p} not found")
        return np.loadtxt(p, dtype=np.float32).reshape(-1, 2)

    def rects(self, frame: Frame) -> dict[str, list[int]]:
        return rects_from_lms(self.lms(frame), self.h, self.w)

    def _img(self, path: Path) -> torch.Tensor:
        a = _read_rgb(path)
        if a.shape[0] != self.h or a.shape[1] != self.w:
            raise BadInput(f"{path} is {a.shape[1]}x{a.shape[0]}, the transforms say {self.w}x{self.h}")
        return torch.from_numpy(a.reshape(-1, a.shape[2]).astype(np.float32) / 255.0)


def rect_mask(rect: list[int], h: int, w: int) -> torch.Tensor:
    """``[H*W]`` bool of a ``[xmin, xmax, ymin, ymax]`` (x = row) rect."""
    m = torch.zeros(h, w, dtype=torch.bool)
    m[rect[0] : rect[1], rect[2] : rect[3]] = True
    return m.reshape(-1)
