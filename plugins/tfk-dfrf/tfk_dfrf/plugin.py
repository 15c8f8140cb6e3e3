"""DFRF plugin entry module: model description and weights manifest (light imports only)."""

from __future__ import annotations

from tfk.plugin import ModelInfo, StageContext, hookimpl
from tfk.weights.artifact import Artifact
from tfk_dfrf.preprocess import OPTIONS as PREPROCESS_OPTIONS


@hookimpl
def tfk_model() -> ModelInfo:
    return ModelInfo(
        summary="DFRF: few-shot audio-driven NeRF talking head (fine-tunes a base model on ~15 s of video)",
        version="0.1.0",
        options={"preprocess": PREPROCESS_OPTIONS},
        homepage="https://github.com/sstzal/DFRF",
        paper="Learning Dynamic Facial Radiance Fields for Few-Shot Talking Head Synthesis (ECCV 2022)",
    )


@hookimpl
def tfk_artifacts() -> list[Artifact]:
    return [
        Artifact(
            id="dfrf/base_model",
            filename="base.tar",
            manual=True,
            license="MIT",
            description="DFRF base model to fine-tune from (dataset/base_model/base.tar, Git LFS)",
            instructions=(
                "Clone https://github.com/sstzal/DFRF with Git LFS (or use its release 'Pretrained_Models') "
                "and import dataset/base_model/base.tar."
            ),
            used_by=("dfrf",),
        )
    ]


@hookimpl
def tfk_preprocess(ctx: StageContext, options: dict) -> object:
    from tfk_dfrf.preprocess import run

    return run(ctx, options)
