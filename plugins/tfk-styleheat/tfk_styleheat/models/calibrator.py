"""StyleHEAT's CalibrationNet (``CalibrationNet(out_size=64, input_channel=512, channel_multiplier=2)``).

A 256-channel U-Net on the warped layer-7 feature (64² -> 4² with four stylegan2 ``ResBlock`` s, back up
with four ``ResUpBlock`` s); after every up block the descriptor (``linear_3dmm``: 256 -> 256 -> 256) is
injected by a ``FineADAINResBlock2d`` and EqualConv heads emit (scale, shift) with 512 channels at
8², 16², 32², 64². Only the 64² pair reaches the generator (its ``7 <= i < len(rc)`` guard).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tfk_styleheat.models.ops import FusedLeakyReLU
from tfk_styleheat.models.stylegan2 import ConvLayer, EqualConv2d, ResBlock, ScaledLeakyReLU
from tfk_styleheat.models.warper import ADAIN

__all__ = ["CalibrationNet"]


class ConvUpLayer(nn.Module):
    """Bilinear ×2 upsampling then an equalised conv (+ fused leaky ReLU)."""

    def __init__(self, cin: int, cout: int, k: int, padding: int = 0, bias: bool = True, activate: bool = True):
        super().__init__()
        self.scale = 1 / math.sqrt(cin * k * k)
        self.padding = padding
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias and not activate else None
        if activate:
            self.activation: nn.Module | None = FusedLeakyReLU(cout) if bias else ScaledLeakyReLU(0.2)
        else:
            self.activation = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        out = F.conv2d(x, self.weight * self.scale, self.bias, 1, self.padding)
        return out if self.activation is None else self.activation(out)


class ResUpBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = ConvLayer(cin, cin, 3)
        self.conv2 = ConvUpLayer(cin, cout, 3, padding=1)
        self.skip = ConvUpLayer(cin, cout, 1, bias=False, activate=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)


class FineADAINResBlock2d(nn.Module):
    """conv-ADAIN-LeakyReLU(0.01), conv-ADAIN, residual."""

    def __init__(self, nc: int, feature_nc: int):
        super().__init__()
        self.conv1 = nn.Conv2d(nc, nc, 3, 1, 1)
        self.conv2 = nn.Conv2d(nc, nc, 3, 1, 1)
        self.norm1 = ADAIN(nc, feature_nc)
        self.norm2 = ADAIN(nc, feature_nc)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.norm1(self.conv1(x), z), 0.01)
        return self.norm2(self.conv2(x), z) + x


class CalibrationNet(nn.Module):
    def __init__(
        self,
        out_size: int = 64,
        input_channel: int = 512,
        channel_multiplier: int = 2,
        narrow: float = 1.0,
        descriptor_nc: int = 256,
        style_channels: int | None = None,
    ):
        super().__init__()
        u = narrow * 0.5
        ch = {r: int(c * u) for r, c in {4: 512, 8: 512, 16: 512, 32: 512}.items()}
        ch[64] = int(256 * channel_multiplier * u)
        self.log_size = int(math.log2(out_size))
        c_first = ch[out_size]
        self.conv_body_first = ConvLayer(input_channel, c_first, 1)
        self.conv_body_down = nn.ModuleList()
        cin = c_first
        for i in range(self.log_size, 2, -1):
            self.conv_body_down.append(ResBlock(cin, ch[2 ** (i - 1)]))
            cin = ch[2 ** (i - 1)]
        self.final_conv = ConvLayer(cin, ch[4], 3)
        self.conv_body_up = nn.ModuleList()
        cin = ch[4]
        for i in range(3, self.log_size + 1):
            self.conv_body_up.append(ResUpBlock(cin, ch[2**i]))
            cin = ch[2**i]
        feat = ch[out_size]
        self.linear_3dmm = nn.Sequential(nn.Linear(descriptor_nc, feat), nn.LeakyReLU(0.1), nn.Linear(feat, feat))
        self.inject_3dmm = nn.ModuleList()
        self.condition_scale = nn.ModuleList()
        self.condition_shift = nn.ModuleList()
        for i in range(3, self.log_size + 1):
            c = ch[2**i]
            sft = style_channels or c * 2
            self.inject_3dmm.append(FineADAINResBlock2d(c, feat))
            for heads in (self.condition_scale, self.condition_shift):
                heads.append(
                    nn.Sequential(
                        EqualConv2d(c, c, 3, padding=1), ScaledLeakyReLU(0.2), EqualConv2d(c, sft, 3, padding=1)
                    )
                )

    def forward(self, x: torch.Tensor, descriptor: torch.Tensor) -> list[torch.Tensor]:
        """``x`` warped feature ``[B,512,64,64]``, ``descriptor [B,256,1]`` -> [scale, shift] × 4 scales."""
        feat = self.conv_body_first(x)
        skips = []
        for block in self.conv_body_down:
            feat = block(feat)
            skips.insert(0, feat)
        feat = self.final_conv(feat)
        z = self.linear_3dmm(descriptor.reshape(descriptor.shape[0], -1))
        out = []
        for i, up in enumerate(self.conv_body_up):
            feat = self.inject_3dmm[i](up(feat + skips[i]), z)
            out += [self.condition_scale[i](feat), self.condition_shift[i](feat)]
        return out
