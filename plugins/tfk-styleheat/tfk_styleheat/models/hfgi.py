"""HFGI high-fidelity inversion: ``ResidualAligner`` + ``ResidualEncoder`` (``hfgi.pth``: ``aligner``, ``encoder``),
the e4e encoder and the StyleGAN2 generator, plus the InterFaceGAN / GANSpace latent editor.

encode: ``x`` (256², [−1,1]) -> e4e W+ (+ ``latent_avg``) -> G -> ``ix`` (clamped, bilinear to 256) and
``res = x − ix``. decode: ``aligner(cat(res, ix))`` -> ``encoder`` -> ``(scale, shift)`` at 64² -> G with the
inversion condition -> ``(ix, wx, fx, condition)`` where ``fx`` is the layer-7 feature.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from tfk_styleheat.models.e4e import E4eEncoder, IRBlock
from tfk_styleheat.models.stylegan2 import EqualConv2d, Generator, ScaledLeakyReLU

__all__ = ["HFGI", "LatentEditor", "ResidualAligner", "ResidualEncoder", "ganspace_delta"]


def _w(c: int, narrow: float) -> int:
    return max(1, int(c * narrow))


def _stack(*units: tuple[int, int, int]) -> nn.Sequential:
    return nn.Sequential(*[IRBlock(a, b, s) for a, b, s in units])


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


class ResidualEncoder(nn.Module):
    """Residual (256²) -> ``(scale, shift)`` of the layer-7 feature (``out_c`` channels at 64²)."""

    def __init__(self, narrow: float = 1.0, out_c: int = 512):
        super().__init__()
        c32, c48, c64 = _w(32, narrow), _w(48, narrow), _w(64, narrow)
        self.conv_layer1 = nn.Sequential(nn.Conv2d(3, c32, 3, 1, 1, bias=False), nn.BatchNorm2d(c32), nn.PReLU(c32))
        self.conv_layer2 = _stack((c32, c48, 2), (c48, c48, 1), (c48, c48, 1))
        self.conv_layer3 = _stack((c48, c64, 2), (c64, c64, 1), (c64, c64, 1))

        def head() -> nn.Sequential:
            return nn.Sequential(
                EqualConv2d(c64, out_c, 3, padding=1), ScaledLeakyReLU(0.2), EqualConv2d(out_c, out_c, 3, padding=1)
            )

        self.condition_scale3 = head()
        self.condition_shift3 = head()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.conv_layer3(self.conv_layer2(self.conv_layer1(x)))
        return _resize(self.condition_scale3(f), 64), _resize(self.condition_shift3(f), 64)


class ResidualAligner(nn.Module):
    """``cat(res, ix)`` (6 channels, 256²) -> aligned residual (3 channels, 256²); a small IR U-Net."""

    def __init__(self, narrow: float = 1.0):
        super().__init__()
        c16, c32, c48, c64 = (_w(c, narrow) for c in (16, 32, 48, 64))
        self.conv_layer1 = nn.Sequential(nn.Conv2d(6, c16, 3, 1, 1, bias=False), nn.BatchNorm2d(c16), nn.PReLU(c16))
        self.conv_layer2 = _stack((c16, c32, 2), (c32, c32, 1), (c32, c32, 1))
        self.conv_layer3 = _stack((c32, c48, 2), (c48, c48, 1), (c48, c48, 1))
        self.conv_layer4 = _stack((c48, c64, 2), (c64, c64, 1), (c64, c64, 1))
        self.dconv_layer1 = _stack((c64 + c48, c64, 1), (c64, c32, 1), (c32, c32, 1))
        self.dconv_layer2 = _stack((c32 + c32, c32, 1), (c32, c16, 1), (c16, c16, 1))
        self.dconv_layer3 = _stack((c16 + c16, c16, 1), (c16, 3, 1), (3, 3, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f1 = self.conv_layer1(x)
        f2 = self.conv_layer2(f1)
        f3 = self.conv_layer3(f2)
        f4 = _resize(self.conv_layer4(f3), 64)
        d1 = _resize(self.dconv_layer1(torch.cat((f4, f3), 1)), 128)
        d2 = _resize(self.dconv_layer2(torch.cat((d1, f2), 1)), 256)
        return self.dconv_layer3(torch.cat((d2, f1), 1))


def ganspace_delta(pca: dict, w: torch.Tensor, idx: int, strength: float) -> torch.Tensor:
    """GANSpace: ``(strength − ⟨w₀ − mean, comp⟩/std)·comp·std`` (coordinate from the first layer's code)."""
    comp = pca["comp"][idx].reshape(-1).to(w)
    std = pca["std"].reshape(-1)[idx].to(w)
    coord = ((w[0] - pca["mean"].reshape(-1).to(w)) * comp).sum() / std
    return (strength - coord) * comp * std


class LatentEditor:
    """InterFaceGAN (age, pose: ``w + factor·dir``) and GANSpace (beard, lip) edits of W+ codes."""

    GANSPACE: ClassVar[dict[str, tuple[int, int, int]]] = {"beard": (58, 7, 9), "lip": (34, 10, 11)}
    RECOMMENDED: ClassVar[dict[str, float]] = {"young": -5.0, "old": 5.0, "beard": -20.0, "lip": 20.0}

    def __init__(self, age: torch.Tensor | None = None, pose: torch.Tensor | None = None, pca: dict | None = None):
        self.age, self.pose, self.pca = age, pose, pca

    def edit(self, wx: torch.Tensor, factor: float, choice: str) -> torch.Tensor:
        if choice in ("young", "old", "pose"):
            d = self.age if choice != "pose" else self.pose
            if d is None:
                raise ValueError(f"the {choice} direction is not loaded")
            return wx + factor * d.to(wx)
        if choice not in self.GANSPACE:
            raise ValueError(f"unknown edit {choice!r}")
        if self.pca is None:
            raise ValueError("the GANSpace PCA (ffhq_pca.pt) is not loaded")
        idx, start, end = self.GANSPACE[choice]
        out = []
        for w in wx:
            delta = torch.zeros_like(w)
            delta[start:end] += ganspace_delta(self.pca, w, idx, factor)
            out.append(w + delta)
        return torch.stack(out)


class HFGI(nn.Module):
    """The inversion stack (``generator`` of StyleHEAT)."""

    def __init__(self, size: int = 1024, narrow: float = 1.0, style_dim: int = 512):
        super().__init__()
        self.stylegan = Generator(size, style_dim, 8, 2, narrow)
        self.e4e_encoder = E4eEncoder(size, narrow, style_dim)
        self.hfgi_aligner = ResidualAligner(narrow)
        self.hfgi_encoder = ResidualEncoder(narrow, self.stylegan.feature_channels)
        self.editor = LatentEditor()

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = _resize(x, 256)
        wx = self.e4e_encoder(x)
        ix, wx, _ = self.stylegan(wx)
        ix = _resize(ix.clamp(-1, 1), 256)
        return wx, ix, (x - ix).detach()

    def decode(self, wx: torch.Tensor, ix: torch.Tensor, res: torch.Tensor, output_size: int = 256):
        cond = self.hfgi_encoder(self.hfgi_aligner(torch.cat((res, ix), 1)))
        img, wx, fx = self.stylegan(wx, inversion_condition=cond)
        return _resize(img.clamp(-1, 1), output_size), wx, fx, cond

    def inverse(self, x: torch.Tensor):
        wx, ix, res = self.encode(x)
        return self.decode(wx, ix, res)

    def edit(self, wx: torch.Tensor, res: torch.Tensor, factor: float, choice: str):
        """Edit ``wx`` and re-decode it with the *original* residual (HFGI editing)."""
        w_edit = self.editor.edit(wx, factor, choice)
        ix_edit, _, _ = self.stylegan(w_edit)
        return self.decode(w_edit, _resize(ix_edit.clamp(-1, 1), 256), res)
