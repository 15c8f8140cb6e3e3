"""The preprocessed subject in a workspace: where every step wrote what, and typed readers for the stages."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from tfk.errors import InputNotFound

STEPS = ("frames", "landmarks", "coeffs", "renders", "blend", "mfcc", "identity")


@dataclass
class Subject:
    root: Path  # <workspace>/steps
    uid: str = ""

    @classmethod
    def from_workspace(cls, ws) -> Subject:
        sub = cls(Path(ws.steps_dir), ws.uid)
        missing = [s for s in STEPS if not (sub.root / s / ".done.json").is_file()]
        if missing:
            raise InputNotFound(
                f"subject {ws.uid!r} is not preprocessed for PHADTF (missing steps: {', '.join(missing)})",
                hint=f"tfk preprocess phadtf VIDEO --uid {ws.uid}",
            )
        return sub

    def step(self, name: str) -> Path:
        return self.root / name

    @cached_property
    def meta(self) -> dict:
        return json.loads((self.step("frames") / "meta.json").read_text())

    @property
    def n_frames(self) -> int:
        return int(self.meta["n_frames"])

    @property
    def n_train(self) -> int:
        return int(self.meta["n_train"])

    def frame_path(self, k: int) -> Path:
        return self.step("frames") / "frames" / f"{k}.png"

    @cached_property
    def coeffs(self) -> np.ndarray:
        return np.load(self.step("coeffs") / "coeff.npy")

    @cached_property
    def trans_params(self) -> np.ndarray:
        return np.load(self.step("coeffs") / "trans_params.npy")

    @cached_property
    def lm_5p(self) -> np.ndarray:
        return np.load(self.step("renders") / "lm_5p.npy")

    @cached_property
    def landmarks(self) -> np.ndarray:
        return np.load(self.step("landmarks") / "lm68.npy")

    @cached_property
    def identity(self) -> np.ndarray:
        return np.load(self.step("identity") / "identity.npy")

    @cached_property
    def mfcc_windows(self) -> np.ndarray:
        return np.load(self.step("mfcc") / "windows.npy")

    def image(self, step: str, name: str) -> np.ndarray:
        import cv2

        p = self.step(step) / name
        img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise InputNotFound(f"missing preprocessed image {p}")
        return cv2.cvtColor(img, cv2.COLOR_BGRA2RGBA if img.shape[2] == 4 else cv2.COLOR_BGR2RGB)


def write_image(path: Path, rgb: np.ndarray) -> None:
    import cv2

    code = cv2.COLOR_RGBA2BGRA if rgb.shape[2] == 4 else cv2.COLOR_RGB2BGR
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, code)):
        raise OSError(f"could not write {path}")
