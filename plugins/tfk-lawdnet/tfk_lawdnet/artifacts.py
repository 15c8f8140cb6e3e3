"""The LawDNet weights manifest (light module: declarations; validators import torch lazily).

Public: VGG19 (training). The DeepSpeech v0.1.0 graph (DP1, ``shared/deepspeech_v010``) and the
deepspeech.pytorch V3 checkpoint (DP2, ``shared/deepspeech_pytorch_v3``) are shared artifacts declared by
:mod:`tfk.audio` (their ``used_by`` names ``lawdnet``, so ``tfk weights pull lawdnet`` fetches them).
Manual (Baidu Pan / Google Drive only): the LawDNet checkpoints and DINet's ``syncnet_256mouth.pth``.

Each LawDNet checkpoint is tied to the audio front-end it was trained with (``meta["audio_frontend"]``):
``checkpoint_epoch_120`` <-> DP1, ``checkpoint_epoch_170`` <-> DP2. Both front-ends give 29-dim
features, so a mismatch would load without error and produce wrong mouths; :mod:`tfk_lawdnet.infer`
refuses it.
"""

from __future__ import annotations

from pathlib import Path

from tfk.errors import InvalidArtifact
from tfk.weights.artifact import Artifact

__all__ = [
    "ARTIFACTS",
    "CHECKPOINT_FRONTEND",
    "DEFAULT_CHECKPOINT",
    "DP1_GRAPH",
    "DP2_CHECKPOINT",
    "FRONTEND_ARTIFACT",
    "SYNCNET",
    "VGG19",
    "validate_generator_checkpoint",
    "validate_syncnet_checkpoint",
    "validate_torch_archive",
    "validate_vgg19",
]

# the audio front-ends are shared toolbox artifacts, declared by tfk.audio (tfk/audio/artifacts.py)
DP1_GRAPH = "shared/deepspeech_v010"
DP2_CHECKPOINT = "shared/deepspeech_pytorch_v3"
VGG19 = "lawdnet/vgg19-imagenet"
SYNCNET = "lawdnet/syncnet_256mouth"
CKPT_170 = "lawdnet/checkpoint_epoch_170"
CKPT_120 = "lawdnet/checkpoint_epoch_120"
DEFAULT_CHECKPOINT = CKPT_170

#: audio front-end each published generator checkpoint was trained with
CHECKPOINT_FRONTEND: dict[str, str] = {CKPT_170: "dp2", CKPT_120: "dp1"}
#: the weights each audio front-end needs
FRONTEND_ARTIFACT: dict[str, str] = {"dp1": DP1_GRAPH, "dp2": DP2_CHECKPOINT}

_BAIDU = "https://pan.baidu.com/s/1FFINqyyz2to96_-A7QhhHA?pwd=ipaw"
_DINET_DRIVE = "https://drive.google.com/drive/folders/1rPtOo9Uuhc59YfFVv4gBmkh0_oG0nCQb"


def _ckpt_instructions(artifact_id: str, filename: str, frontend: str) -> str:
    return (
        f"The LawDNet generator checkpoint {filename} is only published on Baidu Pan: {_BAIDU} "
        f"(extraction code: ipaw; 'pretrained model + test video'). Download {filename} (about 0.3 GB), then run: "
        f"tfk weights import {artifact_id} /path/to/{filename}  -- it pairs with the {frontend.upper()} audio "
        "front-end; treat files from the share as untrusted (tfk loads them with weights_only=True)."
    )


ARTIFACTS: list[Artifact] = [
    Artifact(
        id=VGG19,
        filename="vgg19-dcbb9e9d.pth",
        sources=("https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",),
        license="BSD-3-Clause",
        description="torchvision VGG19 ImageNet weights (perceptual loss, training only); no full sha256 is "
        "published: the validator loads every tensor and checks the VGG19 keys",
        validator="tfk_lawdnet.artifacts:validate_vgg19",
        torch_hub_name="vgg19-dcbb9e9d.pth",
        used_by=("lawdnet:train",),
        optional=True,
    ),
    Artifact(
        id=CKPT_170,
        filename="checkpoint_epoch_170.pth",
        manual=True,
        instructions=_ckpt_instructions(CKPT_170, "checkpoint_epoch_170.pth", "dp2"),
        license="see https://github.com/iPaw-AI-LAB/LawDNet_2024",
        description="LawDNet generator, clip stage epoch 170, mouth 288 (pairs with DP2 deepspeech.pytorch)",
        validator="tfk_lawdnet.artifacts:validate_generator_checkpoint",
        used_by=("lawdnet:infer", "lawdnet:serve", "lawdnet:evaluate"),
        meta={"audio_frontend": "dp2", "mouth": 288},
    ),
    Artifact(
        id=CKPT_120,
        filename="checkpoint_epoch_120.pth",
        manual=True,
        instructions=_ckpt_instructions(CKPT_120, "checkpoint_epoch_120.pth", "dp1"),
        license="see https://github.com/iPaw-AI-LAB/LawDNet_2024",
        description="LawDNet generator, clip stage epoch 120, mouth 288 (pairs with DP1 DeepSpeech v0.1.0)",
        validator="tfk_lawdnet.artifacts:validate_generator_checkpoint",
        used_by=("lawdnet:infer(--checkpoint lawdnet/checkpoint_epoch_120)",),
        optional=True,
        meta={"audio_frontend": "dp1", "mouth": 288},
    ),
    Artifact(
        id=SYNCNET,
        filename="syncnet_256mouth.pth",
        manual=True,
        instructions=(
            f"DINet's SyncNet (used by the LawDNet clip-stage sync loss) is in DINet's asserts.zip on Google Drive: "
            f"{_DINET_DRIVE} . Extract syncnet_256mouth.pth from it, then run: "
            f"tfk weights import {SYNCNET} /path/to/syncnet_256mouth.pth"
        ),
        license="see https://github.com/MRzzm/DINet",
        description="DINet SyncNet on 256-px mouth crops + DP1 features (clip-stage training loss only)",
        validator="tfk_lawdnet.artifacts:validate_syncnet_checkpoint",
        used_by=("lawdnet:train(clip)",),
        optional=True,
    ),
]


# --------------------------------------------------------------------------------------------------
# validators (called by the weights store after a download/import; heavy imports inside)


def _torch_load(path: Path):
    from tfk_lawdnet.models.checkpoint import load_checkpoint

    return load_checkpoint(path)


def validate_generator_checkpoint(path: Path) -> None:
    """Structural check: the file loads strictly into the LawDNet generator (older layouts are refused)."""
    from tfk_lawdnet.models.checkpoint import load_generator

    load_generator(Path(path), "cpu")


def validate_syncnet_checkpoint(path: Path) -> None:
    obj = _torch_load(Path(path))
    sd = obj.get("state_dict", {}).get("net", obj) if isinstance(obj, dict) else None
    if not isinstance(sd, dict) or not any(k.removeprefix("module.").startswith("face_encoder.face_conv.") for k in sd):
        raise InvalidArtifact("not a DINet SyncNet checkpoint (expected state_dict.net with face_encoder.* keys)")


def validate_vgg19(path: Path) -> None:
    """torchvision VGG19: a complete state dict (legacy or zip format) with the 16 convolutions and 3 linears."""
    from tfk.weights.checks import torch_state_dict

    torch_state_dict(Path(path), ["features.0.weight", "features.34.weight", "classifier.6.weight"], min_tensors=38)


def validate_torch_archive(path: Path) -> None:
    """A PyTorch zip archive (the Lightning DP2 checkpoint cannot be unpickled with weights_only)."""
    import zipfile

    p = Path(path)
    if not zipfile.is_zipfile(p):
        raise InvalidArtifact(f"{p.name}: not a PyTorch checkpoint archive")
    with zipfile.ZipFile(p) as zf:
        if not any(n.endswith("data.pkl") for n in zf.namelist()):
            raise InvalidArtifact(f"{p.name}: a zip file but not a PyTorch checkpoint (no data.pkl)")
