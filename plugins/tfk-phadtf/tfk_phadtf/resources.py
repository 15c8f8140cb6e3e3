"""Resolving weights and model files from options: a path, an artifact id, or the default artifact."""

from __future__ import annotations

from pathlib import Path

from tfk.errors import InputNotFound


def resolve(value, default_id: str, require) -> Path:
    """``value`` may be a file path or an artifact id; None means ``default_id`` (through ``require``)."""
    if value:
        p = Path(str(value)).expanduser()
        if p.is_file():
            return p
        if "/" in str(value) and not p.suffix:
            return Path(require(str(value)))
        raise InputNotFound(f"file not found: {p}")
    return Path(require(default_id))


def require_default(artifact_id: str) -> Path:
    from tfk.weights import require

    return Path(require(artifact_id))


def face_model(path=None, device: str = "cpu"):
    """The Deep3D front model (``BFM_model_front.mat``; licence-gated BFM, or an explicit stand-in file)."""
    from tfk.tdmm.fit257 import Deep3DFaceModel

    return Deep3DFaceModel.load(path, device=device)


def lm3d(path=None):
    from tfk.tdmm.deep3d import load_lm3d

    return load_lm3d(path)
