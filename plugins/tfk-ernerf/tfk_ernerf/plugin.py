"""ER-NeRF plugin entry module: model description and weights manifest (light imports only)."""

from __future__ import annotations

from tfk.plugin import ModelInfo, StageContext, hookimpl
from tfk.weights.artifact import Artifact
from tfk_ernerf.preprocess import OPTIONS as PREPROCESS_OPTIONS


@hookimpl
def tfk_model() -> ModelInfo:
    return ModelInfo(
        summary="ER-NeRF: person-specific audio-driven NeRF talking head (tri-plane hash grids)",
        version="0.1.0",
        options={"preprocess": PREPROCESS_OPTIONS},
        homepage="https://github.com/Fictionarry/ER-NeRF",
        paper="Efficient Region-Aware Neural Radiance Fields for High-Fidelity Talking Portrait Synthesis (ICCV 2023)",
    )


@hookimpl
def tfk_artifacts() -> list[Artifact]:
    steps = (
        "Open https://github.com/Fictionarry/ER-NeRF/releases/tag/ckpt, download the Obama example's "
        "{what} checkpoint (ngp.pth under {trial}/checkpoints), then import it."
    )
    return [
        Artifact(
            id="ernerf/obama_head",
            filename="ngp.pth",
            manual=True,
            optional=True,
            license="MIT",
            instructions=steps.format(what="head", trial="trial_obama"),
            description="example subject (Obama), head model",
            used_by=("ernerf",),
        ),
        Artifact(
            id="ernerf/obama_torso",
            filename="ngp.pth",
            manual=True,
            optional=True,
            license="MIT",
            instructions=steps.format(what="torso", trial="trial_obama_torso"),
            description="example subject (Obama), torso model",
            used_by=("ernerf",),
        ),
    ]


@hookimpl
def tfk_preprocess(ctx: StageContext, options: dict) -> object:
    from tfk_ernerf.preprocess import run

    return run(ctx, options)
