"""Shared face-toolbox artifacts (plain declarations: importing this module is cheap)."""

from __future__ import annotations

from tfk.hookspecs import hookimpl
from tfk.weights.artifact import Artifact

_FAN_BASE = "https://www.adrianbulat.com/downloads/python-fan/"

ARTIFACTS = [
    Artifact(
        id="shared/fan_2d",
        filename="2DFAN4-11f355bf06.pth.tar",
        sources=(_FAN_BASE + "2DFAN4-11f355bf06.pth.tar",),
        license="BSD-3-Clause (face-alignment); trained on 300-W data (non-commercial)",
        description="face-alignment FAN 2D 68-point landmarker (2DFAN-4), used by the face-alignment backend. "
        "No sha256 or size is published: the validator loads every tensor and checks the FAN keys.",
        validator="tfk.face.validators:validate_fan",
        torch_hub_name="2DFAN4-11f355bf06.pth.tar",
        used_by=("tfk.face", "er-nerf", "dfrf", "styleheat"),
        optional=True,
    ),
    Artifact(
        id="shared/s3fd",
        filename="s3fd-619a316812.pth",
        sources=(_FAN_BASE + "s3fd-619a316812.pth",),
        license="BSD-3-Clause (face-alignment)",
        description="S3FD face detector used by face-alignment (the NeRF originals' detector). "
        "No sha256 or size is published: the validator loads every tensor and checks the S3FD keys.",
        validator="tfk.face.validators:validate_s3fd",
        torch_hub_name="s3fd-619a316812.pth",
        used_by=("tfk.face", "er-nerf", "dfrf", "styleheat"),
        optional=True,
    ),
    Artifact(
        id="shared/face_parsing_79999",
        filename="79999_iter.pth",
        manual=True,
        instructions=(
            "Download 79999_iter.pth (BiSeNet face parsing trained on CelebAMask-HQ, about 53 MB) from the "
            "face-parsing.PyTorch project (zllrunning; Google Drive link in its README) or from the AD-NeRF / "
            "ER-NeRF repositories (data_util/face_parsing/79999_iter.pth), then run: "
            "tfk weights import shared/face_parsing_79999 /path/to/79999_iter.pth"
        ),
        license="MIT (code); CelebAMask-HQ training data is non-commercial",
        description="BiSeNet 19-class face parsing weights (AD-NeRF/ER-NeRF/DFRF parsing masks)",
        validator="tfk.face.parsing.bisenet:validate_checkpoint",
        used_by=("tfk.face", "er-nerf", "dfrf"),
        optional=True,
    ),
]


@hookimpl
def tfk_artifacts() -> list[Artifact]:
    """This toolbox's shared artifacts (collected by :mod:`tfk.registry`)."""
    return list(ARTIFACTS)
