"""The StyleHEAT model: HFGI inversion -> VideoWarper -> warped StyleGAN feature -> CalibrationNet -> final image.

State-dict prefixes: ``video_warper.*`` and ``calibrator.*`` (``StyleHEAT_visual.pt['net_G_ema']``, which
has no ``generator.*`` keys) and ``generator.{stylegan, e4e_encoder.encoder, hfgi_aligner, hfgi_encoder}.*``
(from ``StyleGAN_e4e.pth``, ``Encoder_e4e.pth``, ``hfgi.pth``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tfk_styleheat.models.calibrator import CalibrationNet
from tfk_styleheat.models.flow import warp
from tfk_styleheat.models.hfgi import HFGI
from tfk_styleheat.models.warper import VideoWarper

__all__ = ["Inversion", "StyleHEAT"]


@dataclass
class Inversion:
    """A source inverted once: ``ix [B,3,256,256]``, ``wx [B,n,D]``, ``fx [B,C,64,64]``, optional HFGI condition."""

    ix: torch.Tensor
    wx: torch.Tensor
    fx: torch.Tensor
    condition: tuple[torch.Tensor, torch.Tensor] | None = None

    def expand(self, n: int) -> Inversion:
        def e(t: torch.Tensor) -> torch.Tensor:
            return t[:1].expand(n, *t.shape[1:])

        cond = None if self.condition is None else (e(self.condition[0]), e(self.condition[1]))
        return Inversion(e(self.ix), e(self.wx), e(self.fx), cond)


class StyleHEAT(nn.Module):
    def __init__(self, size: int = 1024, narrow: float = 1.0, style_dim: int = 512):
        super().__init__()
        self.size = size
        self.video_warper = VideoWarper(narrow)
        self.generator = HFGI(size, narrow, style_dim)
        fc = self.generator.stylegan.feature_channels
        descriptor = self.video_warper.mapping_net.first[0].out_channels
        self.calibrator = CalibrationNet(64, fc, 2, narrow, descriptor_nc=descriptor, style_channels=fc)

    @torch.no_grad()
    def invert(self, x: torch.Tensor) -> Inversion:
        """HFGI ``encode`` inversion of aligned sources ``x [B,3,256,256]`` in [−1, 1]."""
        ix, wx, fx, cond = self.generator.inverse(x)
        return Inversion(ix, wx, fx, cond)

    def forward(self, semantics: torch.Tensor, inv: Inversion, imsize: int = 1024, warp_image: bool = True):
        """``semantics [B,73,27]`` driving windows, ``inv`` batched like them -> dict of images in [−1, 1]
        (``fake_image`` at ``imsize``; ``video_warp_image`` (StyleGAN with the warp only) when asked)."""
        g = self.generator.stylegan
        out = self.video_warper(inv.ix, semantics)
        deformation, descriptor = out["deformation"], out["descriptor"]
        result = {"warp_image": out["warp_image"], "flow_field": out["flow_field"]}
        if warp_image:
            img, _, _ = g(inv.wx, inversion_condition=inv.condition, warping_condition=[deformation])
            result["video_warp_image"] = F.interpolate(img, size=(imsize, imsize), mode="bilinear", align_corners=False)
        rc = self.calibrator(warp(inv.fx, deformation), descriptor)
        fake, _, _ = g(
            inv.wx,
            inversion_condition=inv.condition,
            refining_condition=rc,
            warping_condition=[deformation],
            f_condition=inv.fx,
        )
        if fake.shape[-1] != imsize:
            fake = F.interpolate(fake, size=(imsize, imsize), mode="bilinear", align_corners=False)
        result["fake_image"] = fake
        return result
