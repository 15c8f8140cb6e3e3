"""A preprocessed DFRF subject in the original on-disk layout (``load_audface_multiid.py``).

``<dir>/transforms_{train,val}.json`` (``focal_len``, ``cx``, ``cy``, frames with ``img_id``, ``aud_id``,
``transform_matrix``, ``face_rect``, ``lip_rect``), ``aud.npy`` ``[N, 16, 29]``, ``bc.jpg``,
``com_imgs/<img_id>.jpg`` (targets; ``gt_imgs`` is accepted too) and ``torso_imgs/<img_id>.jpg`` (the per-frame
background behind the head), optionally ``config.txt`` with ``near``/``far``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from tfk.errors import BadInput, InputNotFound

TARGET_DIRS = ("com_imgs", "gt_imgs")
DEFAULT_REFERENCES = (50, 100, 150, 200)


def find_subject_dir(root: str | Path) -> Path:
    """The folder holding ``transforms_train.json``: ``root`` itself or the original's ``root/0``."""
    root = Path(root)
    for cand in (root, root / "0", root / "data", root / "dataset" / "0"):
        if (cand / "transforms_train.json").is_file():
            return cand
    raise InputNotFound(
        f"no DFRF subject data in {root} (transforms_train.json missing)",
        hint="run `tfk preprocess dfrf VIDEO --uid ...`",
    )


@lru_cache(maxsize=256)
def _read_rgb(path: str) -> np.ndarray:
    import cv2

    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise InputNotFound(f"cannot read image {path}")
    return np.ascontiguousarray(img[:, :, ::-1])


def _config_value(text: str, key: str) -> float | None:
    m = re.search(rf"^\s*{key}\s*=\s*([-+0-9.eE]+)\s*$", text, re.M)
    return float(m.group(1)) if m else None


@dataclass
class Split:
    img_ids: list[int]
    aud_ids: list[int]
    poses: np.ndarray  # [n, 4, 4] c2w
    face_rects: np.ndarray  # [n, 4] x, y, w, h
    lip_rects: np.ndarray


class Subject:
    """One identity: poses, audio windows, image paths and camera; images are read lazily (small LRU cache)."""

    def __init__(self, root: str | Path, bc_type: str = "torso_imgs"):
        self.dir = find_subject_dir(root)
        self.name = self.dir.parent.name if self.dir.name == "0" else self.dir.name
        metas = {}
        for s in ("train", "val"):
            p = self.dir / f"transforms_{s}.json"
            if not p.is_file():
                raise InputNotFound(f"{p} is missing")
            metas[s] = json.loads(p.read_text())
        meta = metas["train"]
        self.focal, self.cx, self.cy = float(meta["focal_len"]), float(meta["cx"]), float(meta["cy"])
        aud = self.dir / "aud.npy"
        if not aud.is_file():
            raise InputNotFound(f"{aud} is missing")
        self.aud = np.load(aud).astype(np.float32)
        if self.aud.ndim != 3 or self.aud.shape[1:] != (16, 29):
            raise BadInput(f"{aud}: expected DeepSpeech windows [N, 16, 29], got {list(self.aud.shape)}")
        bc = self.dir / "bc.jpg"
        if not bc.is_file():
            raise InputNotFound(f"{bc} is missing")
        self.h, self.w = _read_rgb(str(bc)).shape[:2]
        self.target_dir = next((self.dir / d for d in TARGET_DIRS if (self.dir / d).is_dir()), None)
        if self.target_dir is None:
            raise InputNotFound(f"{self.dir} has neither com_imgs/ nor gt_imgs/")
        self.bc_dir = self.dir / bc_type
        if not self.bc_dir.is_dir():
            raise InputNotFound(f"{self.bc_dir} is missing (the per-frame background images)")
        self.splits = {s: self._split(m) for s, m in metas.items()}
        cfg = self.dir / "config.txt"
        text = cfg.read_text() if cfg.is_file() else ""
        near, far = _config_value(text, "near"), _config_value(text, "far")
        if near is None or far is None:
            z = float(np.mean(np.linalg.norm(self.splits["train"].poses[:, :3, 3], axis=-1)))
            near, far = z - 0.2, z + 0.4
        self.near, self.far = near, far

    def _split(self, meta: dict) -> Split:
        frames = meta["frames"]
        if not frames:
            raise BadInput(f"{self.dir}: a transforms json has no frames")
        n = self.aud.shape[0]
        return Split(
            img_ids=[int(f["img_id"]) for f in frames],
            aud_ids=[min(int(f.get("aud_id", f["img_id"])), n - 1) for f in frames],
            poses=np.array([f["transform_matrix"] for f in frames], dtype=np.float32),
            face_rects=np.array([f.get("face_rect", [0, 0, self.w, self.h]) for f in frames], dtype=np.int64),
            lip_rects=np.array([f.get("lip_rect", [0, 0, self.w, self.h]) for f in frames], dtype=np.int64),
        )

    @property
    def train(self) -> Split:
        return self.splits["train"]

    @property
    def val(self) -> Split:
        return self.splits["val"]

    def image(self, img_id: int) -> np.ndarray:
        return _read_rgb(str(self.target_dir / f"{img_id}.jpg"))

    def background(self, img_id: int) -> np.ndarray:
        return _read_rgb(str(self.bc_dir / f"{img_id}.jpg"))

    def reference_indices(self, spec: str | None = "auto") -> list[int]:
        """Training-split indices of the 4 reference frames: the original's ``[50, 100, 150, 200]`` or ``i,j,k,l``."""
        n = len(self.train.img_ids)
        if spec in (None, "", "auto"):
            if n <= max(DEFAULT_REFERENCES):
                raise BadInput(
                    f"subject {self.name} has {n} training frames; the original reference frames 50,100,150,200 "
                    "need at least 201 (about 16 s of video with the 50% split)",
                    hint="choose four frames with --references i,j,k,l",
                )
            return list(DEFAULT_REFERENCES)
        try:
            idx = [int(v) for v in str(spec).split(",")]
        except ValueError:
            raise BadInput(f"--references must be 'auto' or four comma-separated frame numbers, got {spec!r}") from None
        if len(idx) != 4 or any(i < 0 or i >= n for i in idx):
            raise BadInput(f"--references needs four training-frame numbers in 0..{n - 1}, got {spec!r}")
        return idx
