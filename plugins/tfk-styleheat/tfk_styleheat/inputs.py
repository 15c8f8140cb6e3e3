"""Inference inputs: FFHQ alignment of the portrait / driving frames, Deep3D 73-d semantics, the 27-frame
windows, and a per-input cache (keyed by file content and the options that change the result).

Landmarks come from ``tfk.face`` (dlib 68 points), the FFHQ quad from ``tfk.face.align.align_ffhq``; a video is
cropped with the quad of frame 0 for every frame (the original's ``Croper``), and this port always crops
(the original only did on a cold cache). Deep3D runs on the 256² aligned crops (POS 224 crop, ``regress``)
and ``semantics_73`` = exp 64 | angle 3 | trans 3 | crop (s, t0, t1).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tfk.errors import BadInput, NoFaceFound

__all__ = ["Prepared", "SemanticsExtractor", "file_digest", "prepare_image", "prepare_video", "windows"]

SIZE = 256
RADIUS = 13


def windows(sem: np.ndarray, start: int, stop: int, radius: int = RADIUS) -> np.ndarray:
    """Radius-13 windows ``[stop−start, 73, 27]`` of ``sem [N,73]``, indices clamped to ``[0, N−1]``."""
    n = len(sem)
    idx = np.clip(np.arange(start, stop)[:, None] + np.arange(-radius, radius + 1)[None], 0, n - 1)
    return np.ascontiguousarray(sem[idx].transpose(0, 2, 1), dtype=np.float32)


def file_digest(path: str | os.PathLike[str], *extra: object) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    for e in extra:
        h.update(repr(e).encode())
    return h.hexdigest()[:24]


@dataclass
class Prepared:
    """An aligned source image ``[256,256,3]`` uint8 and the semantics ``[N,73]`` of its frames."""

    image: np.ndarray
    semantics: np.ndarray
    fps: float = 25.0


class SemanticsExtractor:
    """Deep3D coefficients of 256² aligned crops -> 73-d semantics (needs the regressor and the 3D landmarks)."""

    def __init__(self, require: Callable[[str], Path], device: str = "cpu", landmarks: str = "dlib"):
        from tfk.tdmm.deep3d import load_lm3d, load_recon_net

        self.net = load_recon_net(require("shared/deep3d_epoch20"), device)
        self.lm3d = load_lm3d(require("shared/deep3d_similarity_lm3d"))
        self.device = device
        self.backend = landmarks
        self._lmk = None

    def landmarks(self, rgb: np.ndarray) -> np.ndarray:
        from tfk.face import choose_face, get_landmarker

        if self._lmk is None:
            self._lmk = get_landmarker(self.backend)
        boxes = self._lmk.detect(rgb)
        if not boxes:
            raise NoFaceFound("no face found in the portrait / first frame", hint="use a frontal, well-lit face")
        box = choose_face(boxes, None)
        return np.asarray(self._lmk.landmarks(rgb, box), np.float64)

    def coeffs(self, crops: list[np.ndarray], lms: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Deep3D ``[N,257]`` and ``trans_params [N,5]`` of the crops."""
        from tfk.tdmm.deep3d import align_image, regress

        al = [align_image(c, lm, self.lm3d) for c, lm in zip(crops, lms, strict=True)]
        return regress(self.net, np.stack([a[1] for a in al]), self.device), np.stack([a[0] for a in al])

    def semantics(self, crops: list[np.ndarray], lms: list[np.ndarray]) -> np.ndarray:
        from tfk.tdmm.deep3d import semantics_73

        return semantics_73(*self.coeffs(crops, lms)).astype(np.float32)


def _align(img: np.ndarray, lm: np.ndarray, align: bool) -> tuple[np.ndarray, np.ndarray]:
    """(aligned 256² crop, 2×3 frame->crop matrix)."""
    import cv2

    from tfk.face.align import align_ffhq

    if align:
        return align_ffhq(img, lm, size=SIZE)
    h, w = img.shape[:2]
    m = np.array([[SIZE / w, 0, 0.5 * SIZE / w - 0.5], [0, SIZE / h, 0.5 * SIZE / h - 0.5]])
    return cv2.resize(img, (SIZE, SIZE), interpolation=cv2.INTER_AREA), m


def _cached(cache: Path | None, key: str, build: Callable[[], Prepared]) -> Prepared:
    if cache is None:
        return build()
    f = cache / f"{key}.npz"
    if f.is_file():
        try:
            d = np.load(f)
            return Prepared(d["image"], d["semantics"], float(d["fps"]))
        except Exception:  # noqa: BLE001 - a damaged cache entry is rebuilt
            f.unlink(missing_ok=True)
    p = build()
    cache.mkdir(parents=True, exist_ok=True)
    tmp = f.with_name(f".{f.name}.{os.getpid()}.tmp.npz")
    np.savez(tmp, image=p.image, semantics=p.semantics, fps=np.float64(p.fps))
    os.replace(tmp, f)
    return p


def prepare_image(path: Path, ex: SemanticsExtractor, align: bool, cache: Path | None) -> Prepared:
    def build() -> Prepared:
        img = _read_image(path)
        lm = ex.landmarks(img)
        crop, m = _align(img, lm, align)
        from tfk.face.align import transform_points

        return Prepared(crop, ex.semantics([crop], [transform_points(m, lm)]))

    return _cached(cache, "img-" + file_digest(path, align, SIZE), build)


def _read_image(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise BadInput(f"{path.name}: not an image OpenCV can read")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def prepare_video(
    path: Path, ex: SemanticsExtractor, align: bool, cache: Path | None, frame_limit: int | None, batch: int = 16
) -> Prepared:
    """Frame 0 aligned (the same-identity source) and the semantics of every frame (streamed)."""
    from tfk.face.align import transform_points
    from tfk.face.tracking import track_landmarks
    from tfk.media import probe
    from tfk.media.frames import iter_frames

    def build() -> Prepared:
        fps = float(probe(path).fps or 25.0)
        track = track_landmarks(iter_frames(path, stop=frame_limit))
        lm0 = track.points[0]
        first = None
        sems, crops, lms = [], [], []
        for i, frame in enumerate(iter_frames(path, stop=frame_limit)):
            if i >= len(track.points):
                break
            crop, m = _align(frame, lm0, align)
            if first is None:
                first = crop
            crops.append(crop)
            lms.append(transform_points(m, track.points[i]))
            if len(crops) == batch:
                sems.append(ex.semantics(crops, lms))
                crops, lms = [], []
        if crops:
            sems.append(ex.semantics(crops, lms))
        if first is None:
            raise BadInput(f"{path.name}: no video frames")
        return Prepared(first, np.concatenate(sems), fps)

    return _cached(cache, "vid-" + file_digest(path, align, SIZE, frame_limit), build)
