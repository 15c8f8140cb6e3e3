"""Validators of the face-alignment weights (their sha256 is not published; see :mod:`tfk.face.artifacts`).

Both files are plain state dicts: loading every tensor with ``weights_only=True`` fails on a file cut
short, and the key check refuses a different network.
"""

from __future__ import annotations

import os

from tfk.weights import checks

__all__ = ["validate_fan", "validate_s3fd"]


def validate_fan(path: str | os.PathLike[str]) -> None:
    """face-alignment 2DFAN-4: a complete state dict with the stem convolution and the 68-heatmap heads."""
    checks.torch_state_dict(path, ["conv1.weight", "l0.weight"], min_tensors=100)


def validate_s3fd(path: str | os.PathLike[str]) -> None:
    """face-alignment S3FD: a complete state dict with the VGG stem and the detection heads."""
    checks.torch_state_dict(path, ["conv1_1.weight", "conv3_3_norm_mbox_conf.weight"], min_tensors=20)
