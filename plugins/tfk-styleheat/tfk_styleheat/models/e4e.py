"""e4e encoder (``Encoder4Editing(50, 'ir_se', 1024)``) and the IR(-SE) bottlenecks shared with HFGI.

Key layout of ``Encoder_e4e.pth['encoder']``: ``input_layer.{0,1,2}`` (conv, BN, PReLU), ``body.{0..23}``
(``shortcut_layer`` = MaxPool (no keys) or ``{0: conv1x1, 1: BN}``; ``res_layer.{0..5}`` = BN, conv3, PReLU,
conv3, BN, SE(``fc1``, ``fc2``)), ``styles.{0..17}`` (``convs.{0,2,4,...}`` + ``linear`` EqualLinear),
``latlayer1`` (256->512), ``latlayer2`` (128->512). ``latent_avg [18,512]`` is stored beside it.
Progressive stage = Inference: every delta is applied. Features ``c1, c2, c3`` come after body 6, 20, 23.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tfk_styleheat.models.stylegan2 import EqualLinear

__all__ = ["E4eEncoder", "Encoder4Editing", "IRBlock", "ir_se50_units"]


def _w(c: int, narrow: float) -> int:
    return max(1, int(c * narrow))


def ir_se50_units(narrow: float = 1.0) -> list[tuple[int, int, int]]:
    """(in, depth, stride) of the 24 IR-SE50 units."""
    units = []
    for cin, depth, n in ((64, 64, 3), (64, 128, 4), (128, 256, 14), (256, 512, 3)):
        units.append((_w(cin, narrow), _w(depth, narrow), 2))
        units += [(_w(depth, narrow), _w(depth, narrow), 1)] * (n - 1)
    return units


class SEModule(nn.Module):
    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, max(1, channels // reduction), 1, bias=False)
        self.fc2 = nn.Conv2d(max(1, channels // reduction), channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(s))))


class IRBlock(nn.Module):
    """``bottleneck_IR`` (``se=False``) / ``bottleneck_IR_SE``: BN-conv-PReLU-conv-BN[-SE] + shortcut."""

    def __init__(self, cin: int, depth: int, stride: int, se: bool = False):
        super().__init__()
        if cin == depth:
            self.shortcut_layer: nn.Module = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(nn.Conv2d(cin, depth, 1, stride, bias=False), nn.BatchNorm2d(depth))
        layers: list[nn.Module] = [
            nn.BatchNorm2d(cin),
            nn.Conv2d(cin, depth, 3, 1, 1, bias=False),
            nn.PReLU(depth),
            nn.Conv2d(depth, depth, 3, stride, 1, bias=False),
            nn.BatchNorm2d(depth),
        ]
        if se:
            layers.append(SEModule(depth, 16))
        self.res_layer = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_layer(x) + self.shortcut_layer(x)


class GradualStyleBlock(nn.Module):
    def __init__(self, cin: int, cout: int, spatial: int):
        super().__init__()
        self.out_c = cout
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, 2, 1), nn.LeakyReLU()]
        for _ in range(int(math.log2(spatial)) - 1):
            layers += [nn.Conv2d(cout, cout, 3, 2, 1), nn.LeakyReLU()]
        self.convs = nn.Sequential(*layers)
        self.linear = EqualLinear(cout, cout, lr_mul=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.convs(x).reshape(-1, self.out_c))


class Encoder4Editing(nn.Module):
    def __init__(self, stylegan_size: int = 1024, narrow: float = 1.0, style_dim: int = 512):
        super().__init__()
        c64 = _w(64, narrow)
        self.input_layer = nn.Sequential(nn.Conv2d(3, c64, 3, 1, 1, bias=False), nn.BatchNorm2d(c64), nn.PReLU(c64))
        self.body = nn.Sequential(*[IRBlock(a, b, s, se=True) for a, b, s in ir_se50_units(narrow)])
        self.style_count = 2 * int(math.log2(stylegan_size)) - 2
        self.coarse_ind, self.middle_ind = 3, 7
        c512 = _w(512, narrow)
        self.styles = nn.ModuleList(
            GradualStyleBlock(c512, style_dim, 16 if i < 3 else 32 if i < 7 else 64) for i in range(self.style_count)
        )
        self.latlayer1 = nn.Conv2d(_w(256, narrow), c512, 1)
        self.latlayer2 = nn.Conv2d(_w(128, narrow), c512, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_layer(x)
        c1 = c2 = None
        for i, block in enumerate(self.body):
            x = block(x)
            if i == 6:
                c1 = x
            elif i == 20:
                c2 = x
        c3 = x
        w0 = self.styles[0](c3)
        ws = [w0]
        feats = c3
        p2 = None
        for i in range(1, self.style_count):
            if i == self.coarse_ind:
                p2 = F.interpolate(c3, size=c2.shape[-2:], mode="bilinear", align_corners=False) + self.latlayer1(c2)
                feats = p2
            elif i == self.middle_ind:
                feats = F.interpolate(p2, size=c1.shape[-2:], mode="bilinear", align_corners=False) + self.latlayer2(c1)
            ws.append(w0 + self.styles[i](feats))
        return torch.stack(ws, 1)


class E4eEncoder(nn.Module):
    """The encoder plus ``latent_avg`` (a buffer, not in the published ``encoder`` state dict)."""

    def __init__(self, stylegan_size: int = 1024, narrow: float = 1.0, style_dim: int = 512):
        super().__init__()
        self.encoder = Encoder4Editing(stylegan_size, narrow, style_dim)
        self.register_buffer("latent_avg", torch.zeros(self.encoder.style_count, style_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x) + self.latent_avg.unsqueeze(0)
