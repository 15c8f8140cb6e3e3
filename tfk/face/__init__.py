"""Face toolbox: detection + 68-point landmarks, alignment/crops/paste-back, parsing masks.

Importing ``tfk.face`` is cheap; numpy/cv2/dlib/torch load when a function is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tfk.face.backends import (
        DlibLandmarker,
        FaceAlignmentLandmarker,
        Landmarker,
        available_backends,
        detect_faces,
        get_landmarker,
        register_backend,
    )
    from tfk.face.doctor import doctor_checks
    from tfk.face.track import LandmarkTrack
    from tfk.face.tracking import choose_face, draw_landmarks, track_landmarks

_LAZY = {
    "LandmarkTrack": "tfk.face.track",
    "track_landmarks": "tfk.face.tracking",
    "choose_face": "tfk.face.tracking",
    "draw_landmarks": "tfk.face.tracking",
    "detect_faces": "tfk.face.backends",
    "Landmarker": "tfk.face.backends",
    "DlibLandmarker": "tfk.face.backends",
    "FaceAlignmentLandmarker": "tfk.face.backends",
    "get_landmarker": "tfk.face.backends",
    "register_backend": "tfk.face.backends",
    "available_backends": "tfk.face.backends",
    "doctor_checks": "tfk.face.doctor",
}

__all__ = [
    "DlibLandmarker",
    "FaceAlignmentLandmarker",
    "LandmarkTrack",
    "Landmarker",
    "available_backends",
    "choose_face",
    "detect_faces",
    "doctor_checks",
    "draw_landmarks",
    "get_landmarker",
    "register_backend",
    "track_landmarks",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in ("align", "parsing", "artifacts"):
        return importlib.import_module(f"tfk.face.{name}")
    raise AttributeError(f"module 'tfk.face' has no attribute {name!r}")
