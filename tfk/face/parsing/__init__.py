"""Face parsing, AD-NeRF masks, background plate and torso/ground-truth images.

``BiSeNet`` and ``load_bisenet`` need torch (imported on first use); the rest needs numpy/cv2/scipy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tfk.face.parsing.background import (
        estimate_background,
        foreground_of,
        gt_image,
        head_image,
        torso_and_gt_images,
    )
    from tfk.face.parsing.bisenet import BiSeNet, load_bisenet, validate_checkpoint
    from tfk.face.parsing.masks import (
        ADNERF_COLOURS,
        BACKGROUND,
        BISENET_ARTIFACT,
        CLASSES,
        HEAD,
        NECK,
        TORSO,
        ParsingResult,
        adnerf_colour_mask,
        bisenet_available,
        colour_mask_to_regions,
        labels_to_regions,
        landmark_parsing,
        parse_frames,
        parse_regions,
        regions_colour_mask,
        write_parsing_png,
    )

_MODULES = {
    "tfk.face.parsing.bisenet": ("BiSeNet", "load_bisenet", "validate_checkpoint"),
    "tfk.face.parsing.background": ("estimate_background", "foreground_of", "gt_image", "head_image",
                                    "torso_and_gt_images"),
    "tfk.face.parsing.masks": ("ADNERF_COLOURS", "BACKGROUND", "BISENET_ARTIFACT", "CLASSES", "HEAD", "NECK", "TORSO",
                               "ParsingResult", "adnerf_colour_mask", "bisenet_available", "colour_mask_to_regions",
                               "labels_to_regions", "landmark_parsing", "parse_frames", "parse_regions",
                               "regions_colour_mask", "write_parsing_png"),
}  # fmt: skip
_LAZY = {name: mod for mod, names in _MODULES.items() for name in names}

__all__ = [
    "ADNERF_COLOURS",
    "BACKGROUND",
    "BISENET_ARTIFACT",
    "CLASSES",
    "HEAD",
    "NECK",
    "TORSO",
    "BiSeNet",
    "ParsingResult",
    "adnerf_colour_mask",
    "bisenet_available",
    "colour_mask_to_regions",
    "estimate_background",
    "foreground_of",
    "gt_image",
    "head_image",
    "labels_to_regions",
    "landmark_parsing",
    "load_bisenet",
    "parse_frames",
    "parse_regions",
    "regions_colour_mask",
    "torso_and_gt_images",
    "validate_checkpoint",
    "write_parsing_png",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tfk.face.parsing' has no attribute {name!r}")
