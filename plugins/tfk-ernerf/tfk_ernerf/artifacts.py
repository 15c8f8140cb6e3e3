"""The ER-NeRF weights manifest (light module: declarations only).

The subject models are trained per person; the only published ER-NeRF checkpoints are the Obama
example's (manual: GitHub release page). The audio front-ends (DeepSpeech v0.1.0 graph, HuBERT-large)
are shared artifacts declared by :mod:`tfk.audio` with ``used_by`` naming ``ernerf``.
"""

from __future__ import annotations

from tfk.weights.artifact import Artifact

_STEPS = (
    "Open https://github.com/Fictionarry/ER-NeRF/releases/tag/ckpt, download the Obama example's "
    "{what} checkpoint (ngp.pth under {trial}/checkpoints), then import it."
)

ARTIFACTS: list[Artifact] = [
    Artifact(
        id="ernerf/obama_head",
        filename="ngp.pth",
        manual=True,
        optional=True,
        license="MIT",
        instructions=_STEPS.format(what="head", trial="trial_obama"),
        description="example subject (Obama), head model",
        used_by=("ernerf",),
    ),
    Artifact(
        id="ernerf/obama_torso",
        filename="ngp.pth",
        manual=True,
        optional=True,
        license="MIT",
        instructions=_STEPS.format(what="torso", trial="trial_obama_torso"),
        description="example subject (Obama), torso model",
        used_by=("ernerf",),
    ),
]
