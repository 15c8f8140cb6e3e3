"""Tiny random weights in the published file layouts (tests, ``tfk demo``, the benchmark).

Tiny = the same modules and key names with every width divided (``narrow``), StyleGAN at 128² (so the
layer-7 hooks still act at 64²) and style_dim 32. The files are written exactly like the release files
(``StyleGAN_e4e.pth`` raw state dict, ``Encoder_e4e.pth`` ``{encoder, latent_avg}``, ``hfgi.pth``
``{aligner, encoder}``, ``StyleHEAT_visual.pt`` ``{net_G_ema: video_warper.* + calibrator.*}``, SadTalker
``{model: ...}``, the D-256 state dict), so inference and training read them through the same loaders.
Stand-ins, named as such: the Deep3D regressor is a *random* ResNet-50 in the ``epoch_20.pth`` layout and the
3D reference landmarks come from tfk's synthetic BFM (the real ones ship with Deep3DFaceRecon).
"""

from __future__ import annotations

from pathlib import Path

TINY = {"size": 128, "narrow": 1 / 16, "style_dim": 32}


def write_tiny_weights(d: Path, seed: int = 0, size: int = 128, narrow: float = 1 / 16) -> dict[str, Path]:
    """Write every file inference and training read; returns ``{artifact_id: path}``."""
    import torch

    from tfk.tdmm.deep3d import ReconNet
    from tfk.tdmm.synthetic import make_synthetic_bfm
    from tfk_styleheat import artifacts as arts
    from tfk_styleheat.models.sadtalker import Audio2Exp, Audio2Pose
    from tfk_styleheat.models.stylegan2 import Discriminator
    from tfk_styleheat.models.styleheat import StyleHEAT

    torch.manual_seed(seed)
    m = StyleHEAT(size=size, narrow=narrow, style_dim=TINY["style_dim"])
    for mod in m.modules():  # keep the random nets tame (small flows, unit-ish activations)
        if isinstance(mod, torch.nn.Conv2d) and mod.out_channels == 2:
            torch.nn.init.zeros_(mod.weight)
    g = m.generator
    d.mkdir(parents=True, exist_ok=True)
    out = {
        arts.STYLEGAN: d / "StyleGAN_e4e.pth",
        arts.E4E: d / "Encoder_e4e.pth",
        arts.HFGI: d / "hfgi.pth",
        arts.VISUAL: d / "StyleHEAT_visual.pt",
        arts.AUDIO2EXP: d / "auido2exp_00300-model.pth",
        arts.AUDIO2POSE: d / "auido2pose_00140-model.pth",
        arts.INTERFACEGAN_AGE: d / "age.pt",
        arts.FFHQ_PCA: d / "ffhq_pca.pt",
        "shared/deep3d_epoch20": d / "epoch_20.pth",
        arts.D256: d / "stylegan2_d_256.pth",
    }
    torch.save(g.stylegan.state_dict(), out[arts.STYLEGAN])
    torch.save(
        {
            "encoder": g.e4e_encoder.encoder.state_dict(),
            "latent_avg": g.stylegan.mean_latent(64)[0].detach().repeat(g.stylegan.n_latent, 1),
        },
        out[arts.E4E],
    )
    torch.save({"aligner": g.hfgi_aligner.state_dict(), "encoder": g.hfgi_encoder.state_dict()}, out[arts.HFGI])
    visual = {k: v for k, v in m.state_dict().items() if not k.startswith("generator.")}
    torch.save({"net_G_ema": visual}, out[arts.VISUAL])
    torch.save({"model": Audio2Exp(narrow=1 / 8).state_dict()}, out[arts.AUDIO2EXP])
    torch.save({"model": Audio2Pose(narrow=1 / 8).state_dict()}, out[arts.AUDIO2POSE])
    sd = TINY["style_dim"]
    torch.save(torch.randn(1, sd) * 0.1, out[arts.INTERFACEGAN_AGE])
    torch.save(
        {"mean": torch.zeros(1, sd), "comp": torch.randn(80, sd) / sd**0.5, "std": torch.ones(80)}, out[arts.FFHQ_PCA]
    )
    torch.save(Discriminator(256, narrow=1 / 16).state_dict(), out[arts.D256])
    torch.save({"net_recon": ReconNet().state_dict(), "epoch": 20}, out["shared/deep3d_epoch20"])
    bfm = make_synthetic_bfm(d / "bfm", grid=12)
    out["shared/deep3d_similarity_lm3d"] = Path(bfm["similarity_Lm3D_all.mat"])
    return out


class TableRequire:
    """A picklable ``require(artifact_id)`` serving a fixed table (tiny weights; DDP workers get a copy)."""

    def __init__(self, table: dict[str, Path]):
        self.table = dict(table)

    def __call__(self, artifact_id: str) -> Path:
        if artifact_id not in self.table:
            from tfk.errors import MissingWeights

            raise MissingWeights(f"{artifact_id} is not present", missing=[artifact_id])
        return self.table[artifact_id]
