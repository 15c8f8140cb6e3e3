"""DFRF weights manifest (light: standard library and tfk only)."""

from __future__ import annotations

from tfk.weights.artifact import Artifact

BASE_MODEL = "dfrf/base_model"

ARTIFACTS = (
    Artifact(
        id=BASE_MODEL,
        filename="base.tar",
        manual=True,
        license="MIT",
        description="DFRF base model to fine-tune from (dataset/base_model/base.tar, Git LFS)",
        instructions=(
            "Clone https://github.com/sstzal/DFRF with Git LFS (or use its release 'Pretrained_Models') "
            "and import dataset/base_model/base.tar."
        ),
        used_by=("dfrf",),
    ),
)
