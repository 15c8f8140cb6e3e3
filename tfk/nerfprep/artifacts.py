"""Artifacts of the NeRF preprocessing toolbox (plain declarations; importing this module is cheap)."""

from __future__ import annotations

from tfk.weights.artifact import Artifact

RVM_ARTIFACT = Artifact(
    id="shared/rvm_mobilenetv3",
    filename="rvm_mobilenetv3.pth",
    # No published sha256 or byte size was found in the reference notes or the sources: the first verified
    # download records the hash (unpinned), later verifies hold the file to it.
    sources=("https://github.com/PeterL1n/RobustVideoMatting/releases/download/v1.0.0/rvm_mobilenetv3.pth",),
    license="GPL-3.0 (RobustVideoMatting)",
    description="Robust Video Matting, MobileNetV3-Large variant (matting + background replacement of the "
    "Avatar ER-NeRF style preprocessing)",
    validator="tfk.nerfprep.rvm:validate_checkpoint",
    used_by=("ernerf", "dfrf"),
    optional=True,
)

ARTIFACTS = [RVM_ARTIFACT]


def tfk_artifacts() -> list[Artifact]:
    """The toolbox's shared artifacts (registered under the entry-point group ``tfk.toolboxes``)."""
    return list(ARTIFACTS)
