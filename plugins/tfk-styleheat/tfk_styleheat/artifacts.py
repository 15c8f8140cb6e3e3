"""The StyleHEAT weights manifest (light module: standard library and tfk only).

Every file of the public StyleHEAT release (``FeiiYin/StyleHEAT`` GitHub release ``styleheat``; the same files
are in the authors' Google Drive folder), the SadTalker v0.0.1 audio-to-coefficient files used by the audio
mode, and the intuitive-edit expression presets from the repository. Sizes and sha256 are not published
upstream: the first verified download records the hash ("unpinned"); the approximate sizes in the
descriptions are estimates from parameter counts. Deep3DFaceRecon (``shared/deep3d_epoch20``) and the BFM
(``shared/bfm2009``, licence-gated, imported by hand) are shared toolbox artifacts declared by ``tfk.tdmm``.
"""

from __future__ import annotations

from tfk.weights.artifact import Artifact

__all__ = [
    "ARTIFACTS",
    "AUDIO2EXP",
    "AUDIO2POSE",
    "D256",
    "E4E",
    "EXPRESSION",
    "FFHQ_PCA",
    "FFHQ_PCA_NPZ",
    "HFGI",
    "INTERFACEGAN_AGE",
    "INTERFACEGAN_POSE",
    "IR_SE50",
    "STYLEGAN",
    "VGG19",
    "VISUAL",
    "WAV2LIP",
]

_RELEASE = "https://github.com/FeiiYin/StyleHEAT/releases/download/styleheat/"
_SADTALKER = "https://github.com/OpenTalker/SadTalker/releases/download/v0.0.1/"
_REPO_RAW = "https://github.com/OpenTalker/StyleHEAT/raw/9cb0c7c/"
_DRIVE = "https://drive.google.com/drive/folders/1-m47oPsa3kxjgK5eSJ8g8sHzG4zr2oRc"
_LIC = "MIT (StyleHEAT code; weights derived from FFHQ/VoxCeleb/HDTF, research use)"
_ZIP = "interfacegan_directions-20230323T133213Z-001.zip"

E4E = "styleheat/encoder_e4e"
HFGI = "styleheat/hfgi"
STYLEGAN = "styleheat/stylegan_e4e"
VISUAL = "styleheat/styleheat_visual"
FFHQ_PCA = "styleheat/ffhq_pca"
FFHQ_PCA_NPZ = "styleheat/ffhq_pca_npz"
INTERFACEGAN_AGE = "styleheat/interfacegan_age"
INTERFACEGAN_POSE = "styleheat/interfacegan_pose"
D256 = "styleheat/stylegan2_d_256"
IR_SE50 = "styleheat/model_ir_se50"
AUDIO2EXP = "styleheat/sadtalker_audio2exp"
AUDIO2POSE = "styleheat/sadtalker_audio2pose"
WAV2LIP = "styleheat/sadtalker_wav2lip"
EXPRESSION = "styleheat/intuitive_expression"
VGG19 = "styleheat/vgg19"


#: no sha256 or size is published: a structural check that the file is complete stands in for one
_COMPLETE = "tfk.weights.checks:complete_checkpoint"


def _release(aid: str, fn: str, desc: str, optional: bool = False, validator: str | None = None) -> Artifact:
    return Artifact(
        id=aid,
        filename=fn,
        sources=(_RELEASE + fn,),
        license=_LIC,
        description=desc + f" (also in the Google Drive folder {_DRIVE})",
        validator=validator or _COMPLETE,
        used_by=("styleheat",),
        optional=optional,
    )


def _direction(aid: str, member: str, desc: str) -> Artifact:
    return Artifact(
        id=aid,
        filename=member,
        sources=(_RELEASE + _ZIP,),
        kind="archive",
        member=f"interfacegan_directions/{member}",
        license=_LIC,
        description=desc,
        validator=_COMPLETE,
        used_by=("styleheat",),
        optional=True,
    )


def _sadtalker(aid: str, fn: str, desc: str, optional: bool = False) -> Artifact:
    return Artifact(
        id=aid,
        filename=fn,
        sources=(_SADTALKER + fn,),
        license="Apache-2.0 (SadTalker)",
        description=desc,
        validator="tfk_styleheat.models.checkpoint:validate_sadtalker",
        used_by=("styleheat",),
        optional=optional,
    )


_V = "tfk_styleheat.models.checkpoint:"
ARTIFACTS: tuple[Artifact, ...] = (
    _release(
        STYLEGAN,
        "StyleGAN_e4e.pth",
        "StyleGAN2-1024 generator, rosinality layout (~133 MB)",
        validator=_V + "validate_stylegan",
    ),
    _release(
        E4E, "Encoder_e4e.pth", "e4e encoder + latent_avg, encode inversion (~1.07 GB)", validator=_V + "validate_e4e"
    ),
    _release(HFGI, "hfgi.pth", "HFGI residual aligner + encoder (~25 MB)", validator=_V + "validate_hfgi"),
    _release(
        VISUAL,
        "StyleHEAT_visual.pt",
        "video warper + calibrator, net_G_ema (>=176 MB)",
        validator=_V + "validate_visual",
    ),
    _release(FFHQ_PCA, "ffhq_pca.pt", "GANSpace PCA of W (beard / lip edits)", optional=True),
    _release(FFHQ_PCA_NPZ, "ffhq_PCA.npz", "PCA statistics for the optimize inversion's p-norm loss", optional=True),
    _direction(INTERFACEGAN_AGE, "age.pt", "InterFaceGAN age direction (young / old edits)"),
    _direction(INTERFACEGAN_POSE, "pose.pt", "InterFaceGAN pose direction"),
    _release(
        D256,
        "stylegan2_d_256.pth",
        "StyleGAN2 discriminator 256 for training stage 2 (~115 MB)",
        True,
        _V + "validate_discriminator",
    ),
    _release(
        IR_SE50, "model_ir_se50.pth", "pSp IR-SE50 ArcFace (listed by the original for an ID loss)", optional=True
    ),
    _sadtalker(AUDIO2EXP, "auido2exp_00300-model.pth", "SadTalker audio->expression (audio mode)"),
    _sadtalker(AUDIO2POSE, "auido2pose_00140-model.pth", "SadTalker audio->pose CVAE (audio mode)"),
    _sadtalker(WAV2LIP, "wav2lip.pth", "Wav2Lip (its audio encoder initialises Audio2Pose in SadTalker 48f328a)", True),
    Artifact(
        id=VGG19,
        filename="vgg19-dcbb9e9d.pth",
        sources=("https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",),
        license="CC BY 4.0 (VGG), BSD (torchvision)",
        description="ImageNet VGG19 for the perceptual losses of both training stages (torchvision layout)",
        torch_hub_name="vgg19-dcbb9e9d.pth",
        validator=_COMPLETE,
        used_by=("styleheat",),
        optional=True,
    ),
    Artifact(
        id=EXPRESSION,
        filename="expression.pth",
        sources=(_REPO_RAW + "docs/demo/intuitive_edit/expression.pth",),
        license=_LIC,
        description="intuitive-edit expression presets (center, mouth, eyebrow, eyes)",
        validator=_COMPLETE,
        used_by=("styleheat",),
        optional=True,
    ),
)

#: what inference needs besides the audio/edit extras
INFERENCE = (STYLEGAN, E4E, HFGI, VISUAL)
