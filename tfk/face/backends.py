"""Face detectors + 68-point landmarkers behind one interface, with a registry by name.

``dlib`` (default, offline): the HOG frontal-face detector on a downscaled grey frame and the iBUG-68
shape predictor that ships inside the ``face-recognition-models`` package (located on disk; that
package is never imported, it needs ``pkg_resources``).
``face-alignment``: FAN 2D + S3FD as the NeRF originals use them, with the weights handed over from
the tfk weights store (never downloaded by the library itself).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tfk.errors import BadInput, MissingWeights, Unavailable

Box = np.ndarray  # float32 [4]: x0, y0, x1, y1


class Landmarker:
    """Backend interface. Boxes are float32 ``(x0, y0, x1, y1)`` in frame pixels."""

    name: str = ""
    batch_size: int = 1  #: frames per :meth:`detect_batch` call where batching pays off

    def detect(self, rgb: np.ndarray) -> list[Box]:
        """All faces in a frame, largest first."""
        raise NotImplementedError

    def verify(self, rgb: np.ndarray, box: Box) -> bool:
        """Whether a face is still inside ``box`` (tracking confidence); backends may do this cheaply."""
        return any(box_iou(f, box) >= 0.3 for f in self.detect(rgb))

    def detect_batch(self, frames: list[np.ndarray]) -> list[list[Box]]:
        return [self.detect(f) for f in frames]

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        """[68,2] float32 points for the face in ``box``."""
        raise NotImplementedError


_REGISTRY: dict[str, Callable[..., Landmarker]] = {}
_INSTANCES: dict[str, Landmarker] = {}
_LOCK = threading.Lock()


def register_backend(name: str, factory: Callable[..., Landmarker]) -> None:
    """Register a landmark backend factory under ``name``."""
    _REGISTRY[name] = factory


def available_backends() -> list[str]:
    return sorted(_REGISTRY)


def get_landmarker(backend: str | Landmarker = "dlib", **kwargs) -> Landmarker:
    """Return a (cached, when no kwargs) backend instance by name, or pass an instance through."""
    if isinstance(backend, Landmarker):
        return backend
    if backend not in _REGISTRY:
        raise BadInput(f"unknown landmark backend {backend!r}; choose one of {', '.join(available_backends())}")
    if kwargs:
        return _REGISTRY[backend](**kwargs)
    with _LOCK:
        if backend not in _INSTANCES:
            _INSTANCES[backend] = _REGISTRY[backend]()
        return _INSTANCES[backend]


def detect_faces(rgb: np.ndarray, backend: str | Landmarker = "dlib") -> list[Box]:
    """Face boxes ``(x0, y0, x1, y1)`` in an RGB uint8 frame, largest first."""
    from tfk.face._frames import check_frame

    return get_landmarker(backend).detect(check_frame(rgb))


def box_area(b: Box) -> float:
    return float(max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1]))


def box_iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = box_area(a) + box_area(b) - inter
    return float(inter / union) if union > 0 else 0.0


# ---------------------------------------------------------------------------------------------- dlib
def dlib_model_dir() -> Path | None:
    """``face_recognition_models/models`` located without importing the package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def dlib_predictor_path() -> Path:
    d = dlib_model_dir()
    path = d / "shape_predictor_68_face_landmarks.dat" if d else None
    if path is None or not path.exists():
        raise MissingWeights(
            "dlib 68-point predictor not found (package face-recognition-models)",
            hint="pip install face-recognition-models",
            missing=["face-recognition-models"],
        )
    return path


class DlibLandmarker(Landmarker):
    """dlib HOG detector (on a frame downscaled to ``detect_size``) + the iBUG-68 shape predictor.

    ``verify`` (used while tracking) runs HOG on a crop around the tracked box scaled so the face is
    about 100 px, which costs about a millisecond.

    Detection falls back to the full-resolution frame and then to one upsampling step when the
    downscaled frame yields no face (small faces).
    """

    name = "dlib"

    def __init__(self, detect_size: int = 256, verify_margin: float = 1.5, predictor_path: str | Path | None = None):
        try:
            import dlib
        except ImportError as exc:
            raise Unavailable("dlib is not installed", hint="pip install dlib-bin") from exc
        self._dlib = dlib
        self.detect_size = int(detect_size)
        self.verify_margin = float(verify_margin)
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(predictor_path or dlib_predictor_path()))

    # -- detection helpers
    def _scale(self, rgb: np.ndarray) -> float:
        return min(1.0, self.detect_size / max(rgb.shape[:2])) if self.detect_size > 0 else 1.0

    @staticmethod
    def _grey(rgb: np.ndarray, scale: float) -> np.ndarray:
        import cv2

        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            h, w = grey.shape
            grey = cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        return grey

    def _run(self, grey: np.ndarray, upsample: int, scale: float, offset=(0.0, 0.0)) -> list[Box]:
        rects = self._detector(grey, upsample)
        boxes = [  # dlib rectangles are inclusive; boxes here are half-open
            np.array(
                [
                    (r.left() + offset[0]) / scale,
                    (r.top() + offset[1]) / scale,
                    (r.right() + 1 + offset[0]) / scale,
                    (r.bottom() + 1 + offset[1]) / scale,
                ],
                dtype=np.float32,
            )
            for r in rects
        ]
        return sorted(boxes, key=box_area, reverse=True)

    def detect(self, rgb: np.ndarray) -> list[Box]:
        scale = self._scale(rgb)
        boxes = self._run(self._grey(rgb, scale), 0, scale)
        if not boxes and scale < 1.0:
            boxes = self._run(self._grey(rgb, 1.0), 0, 1.0)
        if not boxes and max(rgb.shape[:2]) <= 1024:
            boxes = self._run(self._grey(rgb, 1.0), 1, 1.0)
        return boxes

    def verify(self, rgb: np.ndarray, box: Box) -> bool:
        """Cheap check that a face is still in ``box``: HOG on a small crop where the box is ~100 px."""
        import cv2

        side = max(box[2] - box[0], box[3] - box[1])
        if side < 8:
            return False
        scale = 100.0 / side
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        half = side * self.verify_margin / 2
        h, w = rgb.shape[:2]
        x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
        x1, y1 = int(min(w, cx + half)), int(min(h, cy + half))
        if x1 - x0 < side * 0.5 or y1 - y0 < side * 0.5:
            return False
        crop = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
        crop = cv2.resize(crop, (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))),
                          interpolation=cv2.INTER_AREA)  # fmt: skip
        found = self._run(crop, 0, scale, offset=(x0 * scale, y0 * scale))
        return any(box_iou(f, box) >= 0.3 for f in found)

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        x0, y0, x1, y1 = (round(float(v)) for v in box)
        rect = self._dlib.rectangle(x0, y0, x1 - 1, y1 - 1)
        shape = self._predictor(rgb, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


# ---------------------------------------------------------------------------------------------- face-alignment
class FaceAlignmentLandmarker(Landmarker):
    """FAN 2D landmarks + S3FD detector from the ``face-alignment`` package, weights from the tfk store.

    The store seeds ``TORCH_HOME/hub/checkpoints`` (``tfk.weights.seed_library_caches``) so FAN finds
    ``2DFAN4-11f355bf06.pth.tar`` there; S3FD gets its file through ``path_to_detector``.
    """

    name = "face-alignment"
    batch_size = 8

    def __init__(self, device: str = "cpu", fan_path: str | Path | None = None, s3fd_path: str | Path | None = None):
        try:
            import face_alignment
        except ImportError as exc:
            raise Unavailable(
                "the face-alignment backend needs the face-alignment package",
                hint="pip install --no-deps face-alignment==1.5.0 tqdm",
            ) from exc
        fan_path, s3fd_path = _face_alignment_weights(fan_path, s3fd_path)
        landmarks_type = getattr(face_alignment.LandmarksType, "TWO_D", None) or face_alignment.LandmarksType._2D
        kwargs = dict(
            device=device,
            flip_input=False,
            face_detector="sfd",
            face_detector_kwargs={"path_to_detector": str(s3fd_path)},
        )
        try:
            self._fa = face_alignment.FaceAlignment(landmarks_type, compile=device.startswith("cuda"), **kwargs)
        except TypeError:  # face-alignment < 1.5 has no ``compile`` argument
            self._fa = face_alignment.FaceAlignment(landmarks_type, **kwargs)
        self._fan_path = fan_path
        self.device = device

    def detect(self, rgb: np.ndarray) -> list[Box]:
        dets = self._fa.face_detector.detect_from_image(rgb[..., ::-1].copy())  # S3FD takes BGR like cv2
        return _fa_boxes(dets)

    def detect_batch(self, frames: list[np.ndarray]) -> list[list[Box]]:
        import torch

        # handed over exactly as FaceAlignment.get_landmarks_from_batch hands its RGB batch to the detector
        batch = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().to(self.device)
        return [_fa_boxes(d) for d in self._fa.face_detector.detect_from_batch(batch)]

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        preds = self._fa.get_landmarks_from_image(rgb, detected_faces=[[*list(box), 1.0]])
        if not preds:
            raise BadInput("face-alignment returned no landmarks for a detected face")
        return np.asarray(preds[0][:, :2], dtype=np.float32)


def _fa_boxes(dets) -> list[Box]:
    boxes = [np.asarray(d[:4], dtype=np.float32) for d in (dets if dets is not None else []) if len(d) >= 4]
    return sorted(boxes, key=box_area, reverse=True)


def _face_alignment_weights(fan_path, s3fd_path) -> tuple[Path, Path]:
    """Resolve FAN and S3FD files from the store and make sure FAN sits in the torch hub cache."""
    if fan_path is None or s3fd_path is None:
        from tfk import weights

        weights.seed_library_caches()
        fan_path = Path(fan_path) if fan_path else weights.require("shared/fan_2d")
        s3fd_path = Path(s3fd_path) if s3fd_path else weights.require("shared/s3fd")
    fan_path, s3fd_path = Path(fan_path), Path(s3fd_path)
    hub = Path(os.environ.get("TORCH_HOME") or Path.home() / ".cache" / "torch") / "hub" / "checkpoints"
    target = hub / "2DFAN4-11f355bf06.pth.tar"
    if not target.exists():
        hub.mkdir(parents=True, exist_ok=True)
        try:
            os.symlink(fan_path.resolve(), target)
        except OSError:
            import shutil

            shutil.copyfile(fan_path, target)
    return fan_path, s3fd_path


register_backend("dlib", DlibLandmarker)
register_backend("face-alignment", FaceAlignmentLandmarker)
