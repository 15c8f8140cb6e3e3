"""StyleHEAT plugin entry module: model description and weights manifest (light imports only)."""

from __future__ import annotations

from tfk.plugin import ModelInfo, hookimpl
from tfk.weights.artifact import Artifact

_RELEASE = "https://github.com/FeiiYin/StyleHEAT/releases/download/styleheat/"
_FILES = [  # (name, filename, description, optional)
    ("encoder_e4e", "Encoder_e4e.pth", "e4e encoder + latent_avg (encode inversion)", False),
    ("hfgi", "hfgi.pth", "HFGI aligner + encoder (encode inversion)", False),
    ("stylegan_e4e", "StyleGAN_e4e.pth", "StyleGAN2 generator (rosinality layout)", False),
    ("styleheat_visual", "StyleHEAT_visual.pt", "video warper + calibrator (net_G_ema)", False),
    ("ffhq_pca", "ffhq_pca.pt", "GANSpace PCA directions (beard/lip edits)", True),
    ("ffhq_pca_npz", "ffhq_PCA.npz", "PCA statistics for optimisation inversion", True),
    ("stylegan2_d_256", "stylegan2_d_256.pth", "StyleGAN2 discriminator (training stage 2)", True),
    ("model_ir_se50", "model_ir_se50.pth", "IR-SE50 ArcFace (identity loss in training)", True),
]


@hookimpl
def tfk_model() -> ModelInfo:
    return ModelInfo(
        summary="StyleHEAT: one portrait + driving video or audio -> high-resolution talking video",
        version="0.1.0",
        homepage="https://github.com/FeiiYin/StyleHEAT",
        paper="StyleHEAT: One-Shot High-Resolution Editable Talking Face Generation (ECCV 2022)",
    )


@hookimpl
def tfk_artifacts() -> list[Artifact]:
    return [
        Artifact(
            id=f"styleheat/{name}",
            filename=fn,
            sources=(_RELEASE + fn,),
            license="MIT (code); see upstream",
            description=desc + "; no sha256 is published: the validator checks that the file is complete",
            validator="tfk.weights.checks:complete_checkpoint",
            optional=opt,
            used_by=("styleheat",),
        )
        for name, fn, desc, opt in _FILES
    ]
