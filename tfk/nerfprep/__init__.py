"""tfk.nerfprep: the shared AD-NeRF / ER-NeRF (Avatar) / DFRF preprocessing as resumable workspace steps.

Importing this package is cheap; submodules load numpy/cv2/torch when used.

- :class:`PrepConfig` (``PrepConfig.for_model("ernerf"|"dfrf", **overrides)``), :func:`parse_references`,
  :func:`parse_rgb` - settings (:mod:`tfk.nerfprep.config`).
- :func:`build_steps` ``(workspace, video, cfg) -> list[Step]`` - the named steps (:mod:`tfk.nerfprep.steps`);
  :func:`preprocess` ``(workspace, video, cfg, ...) -> (subject folder, results)`` runs them
  (:mod:`tfk.nerfprep.run`).
- :func:`subject_dir` ``(workspace)``, :func:`read_model_data` - where the original-layout files are
  (:mod:`tfk.nerfprep.layout`, whose docstring lists the layout).
- :class:`MattingNetwork`, :func:`load_rvm`, :func:`matte_frames` - Robust Video Matting (MobileNetV3),
  checkpoint-compatible with ``rvm_mobilenetv3.pth`` (:mod:`tfk.nerfprep.rvm`); :data:`RVM_ARTIFACT`.
- :func:`find_head_region`, :func:`stable_head_region`, :class:`HeadRegion` - the Avatar head box
  (:mod:`tfk.nerfprep.head`).
- :func:`ear_au45`, :func:`write_au_csv`, :func:`read_au45` - blinks (:mod:`tfk.nerfprep.blinks`).
- :func:`dfrf_torso_image` - DFRF's ``torso_imgs`` (:mod:`tfk.nerfprep.images`).
- :func:`feature_spec`, :func:`feature_availability`, :func:`to_layout` - audio features
  (:mod:`tfk.nerfprep.features`).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "PrepConfig": "config",
    "LAYOUTS": "config",
    "AUDIO_FEATURES": "config",
    "DFRF_REFERENCES": "config",
    "parse_references": "config",
    "parse_rgb": "config",
    "build_steps": "steps",
    "check_references": "steps",
    "skipped_reason": "steps",
    "preprocess": "run",
    "subject_dir": "layout",
    "read_model_data": "layout",
    "MattingNetwork": "rvm",
    "load_rvm": "rvm",
    "matte_frames": "rvm",
    "RVM_ARTIFACT": "artifacts",
    "find_head_region": "head",
    "stable_head_region": "head",
    "HeadRegion": "head",
    "ear_au45": "blinks",
    "write_au_csv": "blinks",
    "read_au45": "blinks",
    "dfrf_torso_image": "images",
    "feature_spec": ("features", "spec"),
    "feature_availability": ("features", "availability"),
    "to_layout": "features",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'tfk.nerfprep' has no attribute {name!r}")
    mod, attr = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(f"tfk.nerfprep.{mod}"), attr)
    globals()[name] = value
    return value
