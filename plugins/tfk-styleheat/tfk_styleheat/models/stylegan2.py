"""StyleGAN2 (rosinality layout, as forked by StyleHEAT) generator and discriminator.

Key layout of ``StyleGAN_e4e.pth`` (171 keys): ``style.{1..8}``, ``input.input``, ``conv1``, ``to_rgb1``,
``convs.{k}`` (``conv.weight [1,O,I,3,3]``, ``conv.modulation``, ``conv.blur.kernel`` on upsampling convs,
``noise.weight``, ``activate.bias``), ``to_rgbs.{k}`` (``upsample.kernel``), ``noises.noise_{k}``.
Noise injection is inert in this fork (the buffers load but are unused).

StyleHEAT hooks at ``i == 7`` (the first conv of the 64² block): the HFGI ``inversion_condition``
(``out·(1+scale)+shift``), the layer-7 feature ``f_latent`` returned, ``f_condition`` replacing it,
every deformation of ``warping_condition`` applied, then ``refining_condition`` pairs (only indices 6 and 7
can act, because of the ``7 <= i < len(rc)`` guard of the original).

``narrow`` scales every width (1.0 = the published model); tiny test models keep the key names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from tfk_styleheat.models.flow import warp
from tfk_styleheat.models.ops import FusedLeakyReLU, fused_leaky_relu, make_kernel, upfirdn2d

__all__ = [
    "ConvLayer",
    "Discriminator",
    "EqualConv2d",
    "EqualLinear",
    "Generator",
    "ResBlock",
    "ScaledLeakyReLU",
    "gan_channels",
]

BLUR = (1, 3, 3, 1)
WARP_INDEX = 7


def gan_channels(channel_multiplier: int = 2, narrow: float = 1.0) -> dict[int, int]:
    base = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}
    return {r: max(1, int(c * (channel_multiplier if r >= 64 else 1) * narrow)) for r, c in base.items()}


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + 1e-8)


class Upsample(nn.Module):
    def __init__(self, kernel=BLUR, factor: int = 2):
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_kernel(kernel) * factor**2)
        p = self.kernel.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class Blur(nn.Module):
    def __init__(self, kernel, pad: tuple[int, int], upsample_factor: int = 1):
        super().__init__()
        self.register_buffer("kernel", make_kernel(kernel) * upsample_factor**2)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class EqualConv2d(nn.Module):
    """Conv with equalised learning rate (``weight·1/sqrt(fan_in)``)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, padding: int = 0, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.scale = 1 / math.sqrt(cin * k * k)
        self.stride, self.padding = stride, padding
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)


class EqualLinear(nn.Module):
    def __init__(
        self, din: int, dout: int, bias: bool = True, bias_init: float = 0.0, lr_mul: float = 1.0, activation=None
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(dout, din).div_(lr_mul))
        self.bias = nn.Parameter(torch.full((dout,), float(bias_init))) if bias else None
        self.activation = activation
        self.scale = lr_mul / math.sqrt(din)
        self.lr_mul = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = None if self.bias is None else self.bias * self.lr_mul
        if self.activation:
            return fused_leaky_relu(F.linear(x, self.weight * self.scale), bias)
        return F.linear(x, self.weight * self.scale, bias)


class ScaledLeakyReLU(nn.Module):
    def __init__(self, negative_slope: float = 0.2):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, self.negative_slope) * math.sqrt(2)


class ModulatedConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, style_dim: int, demodulate: bool = True, upsample: bool = False):
        super().__init__()
        self.cin, self.cout, self.k = cin, cout, k
        self.upsample = upsample
        if upsample:
            p = (len(BLUR) - 2) - (k - 1)
            self.blur = Blur(BLUR, pad=((p + 1) // 2 + 1, p // 2 + 1), upsample_factor=2)
        self.scale = 1 / math.sqrt(cin * k * k)
        self.padding = k // 2
        self.weight = nn.Parameter(torch.randn(1, cout, cin, k, k))
        self.modulation = EqualLinear(style_dim, cin, bias_init=1)
        self.demodulate = demodulate

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        b, cin, h, w = x.shape
        s = self.modulation(style).view(b, 1, cin, 1, 1)
        weight = self.scale * self.weight * s
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum((2, 3, 4)) + 1e-8).view(b, self.cout, 1, 1, 1)
        x = x.reshape(1, b * cin, h, w)
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(b * cin, self.cout, self.k, self.k)
            out = F.conv_transpose2d(x, weight, padding=0, stride=2, groups=b)
            out = self.blur(out.view(b, self.cout, *out.shape[-2:]))
        else:
            out = F.conv2d(x, weight.reshape(b * self.cout, cin, self.k, self.k), padding=self.padding, groups=b)
            out = out.view(b, self.cout, *out.shape[-2:])
        return out


class NoiseInjection(nn.Module):
    """Inert in StyleHEAT's fork (returns its input); ``weight`` is kept for the key layout."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class ConstantInput(nn.Module):
    def __init__(self, channel: int, size: int = 4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.expand(batch, -1, -1, -1)


class StyledConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, style_dim: int, upsample: bool = False):
        super().__init__()
        self.conv = ModulatedConv2d(cin, cout, k, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(cout)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.activate(self.noise(self.conv(x, style)))


class ToRGB(nn.Module):
    def __init__(self, cin: int, style_dim: int, upsample: bool = True):
        super().__init__()
        if upsample:
            self.upsample = Upsample(BLUR)
        self.conv = ModulatedConv2d(cin, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x, style) + self.bias
        return out if skip is None else out + self.upsample(skip)


class Generator(nn.Module):
    """StyleGAN2 synthesis + mapping network with StyleHEAT's layer-7 hooks."""

    def __init__(self, size: int = 1024, style_dim: int = 512, n_mlp: int = 8, channel_multiplier: int = 2, narrow=1.0):
        super().__init__()
        self.size, self.style_dim = size, style_dim
        self.style = nn.Sequential(
            PixelNorm(),
            *[EqualLinear(style_dim, style_dim, lr_mul=0.01, activation="fused_lrelu") for _ in range(n_mlp)],
        )
        self.channels = gan_channels(channel_multiplier, narrow)
        c4 = self.channels[4]
        self.input = ConstantInput(c4)
        self.conv1 = StyledConv(c4, c4, 3, style_dim)
        self.to_rgb1 = ToRGB(c4, style_dim, upsample=False)
        self.log_size = int(math.log2(size))
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.convs, self.to_rgbs = nn.ModuleList(), nn.ModuleList()
        self.noises = nn.Module()
        for k in range(self.num_layers):
            r = 2 ** ((k + 5) // 2)
            self.noises.register_buffer(f"noise_{k}", torch.randn(1, 1, r, r))
        cin = c4
        for i in range(3, self.log_size + 1):
            cout = self.channels[2**i]
            self.convs.append(StyledConv(cin, cout, 3, style_dim, upsample=True))
            self.convs.append(StyledConv(cout, cout, 3, style_dim))
            self.to_rgbs.append(ToRGB(cout, style_dim))
            cin = cout
        self.n_latent = self.log_size * 2 - 2

    @property
    def feature_channels(self) -> int:
        """Channels of the layer-7 (64²) feature."""
        return self.channels[64]

    def mean_latent(self, n: int = 4096) -> torch.Tensor:
        z = torch.randn(n, self.style_dim, device=self.input.input.device)
        return self.style(z).mean(0, keepdim=True)

    def forward(
        self,
        latent: torch.Tensor,
        inversion_condition: Sequence[torch.Tensor] | None = None,
        refining_condition: Sequence[torch.Tensor] | None = None,
        warping_condition: torch.Tensor | Sequence[torch.Tensor] | None = None,
        f_condition: torch.Tensor | None = None,
        input_is_latent: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """``latent`` W+ ``[B,n_latent,D]`` (or ``[B,D]``, repeated) -> ``(image, latent, f_latent)``."""
        if not input_is_latent:
            latent = self.style(latent)
        if latent.ndim == 2:
            latent = latent.unsqueeze(1).expand(-1, self.n_latent, -1)
        rc = list(refining_condition or [])
        if warping_condition is not None and not isinstance(warping_condition, (list, tuple)):
            warping_condition = [warping_condition]
        out = self.conv1(self.input(latent.shape[0]), latent[:, 0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        f_latent = None
        for conv1, conv2, to_rgb in zip(self.convs[::2], self.convs[1::2], self.to_rgbs, strict=True):
            out = conv1(out, latent[:, i])
            if i == WARP_INDEX:
                if inversion_condition is not None:
                    out = out * (1 + inversion_condition[0]) + inversion_condition[1]
                f_latent = out
                if f_condition is not None:
                    out = f_condition
                for d in warping_condition or ():
                    out = warp(out, d)
            if WARP_INDEX <= i < len(rc):
                out = out * (1 + rc[i - 1]) + rc[i]
            out = conv2(out, latent[:, i + 1])
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip, latent, f_latent


class ConvLayer(nn.Sequential):
    """``[Blur] EqualConv2d [FusedLeakyReLU|ScaledLeakyReLU]`` (rosinality's index layout)."""

    def __init__(self, cin: int, cout: int, k: int, downsample: bool = False, bias: bool = True, activate=True):
        layers: list[nn.Module] = []
        if downsample:
            p = (len(BLUR) - 2) + (k - 1)
            layers.append(Blur(BLUR, pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, k // 2
        layers.append(EqualConv2d(cin, cout, k, stride=stride, padding=padding, bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(cout) if bias else ScaledLeakyReLU(0.2))
        super().__init__(*layers)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = ConvLayer(cin, cin, 3)
        self.conv2 = ConvLayer(cin, cout, 3, downsample=True)
        self.skip = ConvLayer(cin, cout, 1, downsample=True, activate=False, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)


class Discriminator(nn.Module):
    """StyleGAN2 discriminator (``stylegan2_d_256.pth``: ``Discriminator(256, channel_multiplier=2)``)."""

    def __init__(self, size: int = 256, channel_multiplier: int = 2, narrow: float = 1.0):
        super().__init__()
        ch = gan_channels(channel_multiplier, narrow)
        convs: list[nn.Module] = [ConvLayer(3, ch[size], 1)]
        cin = ch[size]
        for i in range(int(math.log2(size)), 2, -1):
            convs.append(ResBlock(cin, ch[2 ** (i - 1)]))
            cin = ch[2 ** (i - 1)]
        self.convs = nn.Sequential(*convs)
        self.stddev_group, self.stddev_feat = 4, 1
        self.final_conv = ConvLayer(cin + 1, ch[4], 3)
        self.final_linear = nn.Sequential(
            EqualLinear(ch[4] * 16, ch[4], activation="fused_lrelu"), EqualLinear(ch[4], 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.convs(x)
        b, c, h, w = out.shape
        group = min(b, self.stddev_group)
        sd = out.view(group, -1, self.stddev_feat, c // self.stddev_feat, h, w)
        sd = torch.sqrt(sd.var(0, unbiased=False) + 1e-8).mean((2, 3, 4), keepdim=True).squeeze(2)
        out = torch.cat((out, sd.repeat(group, 1, h, w)), 1)
        return self.final_linear(self.final_conv(out).view(b, -1))
